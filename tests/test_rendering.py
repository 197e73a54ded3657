"""绘制与数据源：纯代码，不需要 Flask。"""

from __future__ import annotations

import gc
import io
import logging
import sys
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from livechart import fonts
from livechart.renderer import Renderer
from livechart.spec import parse_chart
from tests.conftest import IN_CI
from tests.conftest import built_in

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def spec(**changes: object):
    """一个模拟数据图表的规格。"""
    raw = {"title": "模拟信号", "source": {"type": "demo", "seed": 1}, "series": {"signal": "信号", "walk": "随机游走"}}
    raw.update(changes)
    return parse_chart("demo", raw)


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    """n 行带时间索引的数据。"""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2026-01-01 12:00", periods=n, freq="1s", name="time")
    return pd.DataFrame({"signal": rng.normal(size=n), "walk": rng.normal(size=n).cumsum()}, index=index)


def test_agg_backend_and_no_pyplot() -> None:
    assert matplotlib.get_backend().lower() == "agg"
    # 服务本身从不导入 pyplot（全局状态、泄漏）
    assert "matplotlib.pyplot" not in sys.modules


@pytest.mark.parametrize("size", [(800, 400), (640, 480), (300, 200)])
def test_render_returns_png_of_the_configured_size(size: tuple[int, int]) -> None:
    renderer = Renderer(spec(size=list(size)))
    png = renderer.render(frame(120))
    assert png.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == size


@pytest.mark.parametrize("rows", [0, 1, 2, 600])
def test_render_handles_any_window_length(rows: int) -> None:
    png = Renderer(spec()).render(frame(rows))
    assert png.startswith(PNG_MAGIC)


def test_render_reflects_the_data() -> None:
    renderer = Renderer(spec())
    first = renderer.render(frame(100, seed=1))
    second = renderer.render(frame(100, seed=2))
    again = Renderer(spec()).render(frame(100, seed=1))
    assert first != second
    assert first == again  # 同样的数据，同样的像素


def test_one_figure_is_reused_and_updated_in_place() -> None:
    """多次绘制后图元数量不变：只更新数据，不新增线条或文字（内存保持平稳）。"""
    renderer = Renderer(spec())
    figure = renderer.page().figure
    renderer.render(frame(50))
    artists = len(built_in(renderer).axes.get_children())
    gc.collect()
    objects = len(gc.get_objects())
    for i in range(30):
        renderer.render(frame(50 + i, seed=i))
    gc.collect()
    assert renderer.page().figure is figure
    assert len(built_in(renderer).axes.get_children()) == artists
    assert len(gc.get_objects()) - objects < 2000


def test_fixed_ylim_is_kept() -> None:
    renderer = Renderer(spec(ylim=[0, 100]))
    renderer.render(frame(50))
    assert built_in(renderer).axes.get_ylim() == (0, 100)


def test_cjk_text_renders_without_missing_glyphs() -> None:
    """安装了 CJK 字体时，中文标题不应产生“缺字形”警告（否则显示为方框）。"""
    path = fonts.find_cjk_font()
    if path is None:
        message = "no CJK font installed (.ci/run installs fonts-wqy-microhei)"
        if IN_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    families = fonts.configure_fonts()
    assert len(families) == 2
    renderer = Renderer(spec(title="中文标题：温度与湿度", ylabel="使用率 (%)"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        renderer.render(frame(30))


def test_missing_cjk_font_warns_once(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """没有 CJK 字体、内置字体也无法加载（这里是个坏文件）：启动时一条清楚的警告，绘制时不为每个缺失的字形刷屏。"""
    monkeypatch.setattr(fonts, "_configured", None)
    monkeypatch.setitem(matplotlib.rcParams, "font.family", ["DejaVu Sans"])
    broken = tmp_path / "broken.otf"
    broken.write_bytes(b"not a font")
    with caplog.at_level(logging.WARNING, logger="livechart"):
        assert fonts.configure_fonts(extra=(), search=[], bundled=broken) == ["DejaVu Sans"]
        assert fonts.configure_fonts(extra=(), search=[], bundled=broken) == ["DejaVu Sans"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert "CJK" in warned[0]
    assert str(broken) in warned[0]
    renderer = Renderer(spec(title="没有中文字体"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        renderer.render(frame(10))


def test_find_cjk_font_checks_glyphs_not_names() -> None:
    dejavu = matplotlib.font_manager.findfont("DejaVu Sans")
    assert fonts.find_cjk_font(search=[dejavu]) is None


def test_cached_background_leaves_no_trace_of_the_previous_frame() -> None:
    """复用背景后的一帧，与全新绘制器画同样数据得到的像素完全一样。"""
    reused = Renderer(spec(ylim=[-5, 5]))
    reused.render(frame(200, seed=1))
    reused.render(frame(80, seed=2))
    background = built_in(reused).background
    again = reused.render(frame(150, seed=3))
    assert built_in(reused).background is background  # y 范围不变：背景被复用
    assert again == Renderer(spec(ylim=[-5, 5])).render(frame(150, seed=3))


def test_auto_ylim_is_round_covers_the_data_and_rebuilds_the_background() -> None:
    renderer = Renderer(spec())
    data = frame(100)
    renderer.render(data)
    low, high = built_in(renderer).axes.get_ylim()
    assert low < data.min().min() and high > data.max().max()
    ticks = built_in(renderer).axes.get_yticks()
    assert low in ticks and high in ticks  # 取整到刻度
    background = built_in(renderer).background
    renderer.render(data * 100)
    assert built_in(renderer).background is not background
    assert built_in(renderer).axes.get_ylim()[1] > data.max().max() * 100


@pytest.mark.parametrize("kind", ["line", "area", "bar", "step", "scatter"])
@pytest.mark.parametrize("bad", [[1e308], [-1e308, 1e308], [np.inf, -np.inf], [9.96921e36, -1e20]])
def test_values_out_of_range_do_not_hide_the_data(kind: str, bad: list[float]) -> None:
    """±1e308、inf 或“缺失”标记值不参与自动 y 范围、也不画：图上照样是真实数据，与把它们换成缺口的图逐像素相同。"""
    data = frame(60)
    broken = data.copy()
    broken.iloc[10 : 10 + len(bad), 0] = bad
    broken.iloc[40, 1] = bad[0]
    renderer = Renderer(spec(kind=kind, annotate_last=True))
    png = renderer.render(broken)
    low, high = built_in(renderer).axes.get_ylim()
    real = broken.where(np.isfinite(broken) & (broken.abs() < 1e18)).stack()
    assert low <= real.min() and high >= real.max()
    # 范围跟着真实数据走，而不是被一个巨大的值撑开
    assert high - low < 10 * (real.max() - real.min()) + 10
    gaps = broken.where(np.isfinite(broken) & (broken.abs() < 1e18))
    assert png == Renderer(spec(kind=kind, annotate_last=True)).render(gaps)


def test_png_is_opaque_rgb() -> None:
    with Image.open(io.BytesIO(Renderer(spec()).render(frame(10)))) as image:
        assert image.mode == "RGB"


@pytest.mark.parametrize("window", [30, 300, 5000])
def test_the_single_pass_x_axis_draws_exactly_what_xaxis_draw_draws(window: int) -> None:
    # TimeSeriesPlot._draw_xaxis 只算一次刻度（比 XAxis.draw 快约 13 %）；像素必须完全相同
    fast, reference = Renderer(spec()), Renderer(spec())
    built_in(fast)  # 两个都先画过一个空窗口，经历相同
    plot = built_in(reference)
    # 参照组改用整个 XAxis 的 draw；替身与 _draw_xaxis 同签名（place_offset 按关键字传入），参数用不到
    plot._draw_xaxis = lambda renderer, place_offset: plot.figure.draw_artist(plot.axes.xaxis)  # type: ignore[method-assign]  # noqa: ARG005
    for seed in range(3):
        data = frame(window, seed)
        a = np.asarray(Image.open(io.BytesIO(fast.render(data))))
        b = np.asarray(Image.open(io.BytesIO(reference.render(data))))
        assert a.shape == b.shape and (a == b).all()
