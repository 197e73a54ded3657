"""图片边缘没有被切掉的文字或标记（issue 14）：每种图表跨过一个整分钟、亮暗两种主题、1 倍与 2 倍、宽与窄。
与 tests/test_legibility.py 分开，是为了让 pytest-xdist 把这两个耗时的文件分给两个进程。"""

from __future__ import annotations

import pandas as pd
import pytest

from livechart.renderer import Renderer
from livechart.themes import THEMES
from tests.test_legibility import KINDS
from tests.test_legibility import START
from tests.test_legibility import chart
from tests.test_legibility import frame
from tests.test_legibility import ink_at_edges
from tests.test_legibility import walk_across_a_minute


@pytest.mark.parametrize("size", [(800, 400), (400, 250)])
# 几何只取决于倍率，颜色只取决于主题：两组搭配覆盖亮、暗两种主题与 1 倍、2 倍
@pytest.mark.parametrize(("theme", "scale"), [("light", 1.0), ("dark", 2.0)])
@pytest.mark.parametrize("kind", list(KINDS))
def test_nothing_is_clipped_at_the_image_edge(kind: str, theme: str, scale: float, size: tuple[int, int]) -> None:
    """以前：每分钟有几秒，最后一个 x 刻度标签被图片右边缘切掉（“14:4”）。"""
    renderer = Renderer(chart(size, **KINDS[kind]))
    border = round(3 * scale)
    # 一个装满的 5 分钟窗口，与刚启动时只有几个点的窗口，都跨过一个整分钟（以前被切掉的是整分钟之后的几秒：
    # 每 2 秒一帧就能碰上；套件要在 10 分钟内跑完）
    frames = walk_across_a_minute(300, step=2) + [frame(START + pd.Timedelta(seconds=s), 1 + s // 3) for s in range(0, 21, 4)]
    for data in frames:
        png = renderer.render(data, theme=theme, scale=scale)
        clipped = ink_at_edges(png, THEMES[theme].face, border)
        assert not clipped, f"ink at the {', '.join(clipped)} edge; last point {data.index[-1]}"
