"""图片的变体：主题（亮 / 暗）× 版式（宽 / 窄）× 倍率（1× / 2×）。唯一知道变体的名字、路径后缀与尺寸的模块。

每个变体是同一个图表、同一份数据的另一种画法，有自己的路径与缓存键（图片标识 = 图表名 + 后缀），
所以按路径做缓存的代理（README 的 nginx 配置按 $uri）永远不会把它们混在一起：

    /charts/cpu.png              图表自己的主题、宽版式、1×（默认，与以前相同）
    /charts/cpu@2x.png           2×（高分屏，或一张图被拉宽到超过它的像素宽度时）
    /charts/cpu.dark.png         暗色（页面处在 prefers-color-scheme: dark 时）
    /charts/cpu.narrow@2x.png    窄版式（手机）：Figure 只有 NARROW_WIDTH 宽，同样大小的字在手机上读得清
    /charts/cpu.dark.narrow@2x.png

主题与图表自己的主题相同的变体就是默认图（cpu.light.png 与亮色图表的 cpu.png 是同一张图）。
图表名只含字母、数字、- 与 _（livechart/spec.py），所以后缀不会与名字混淆。本模块是纯代码，不导入 Flask。
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from livechart.spec import THEMES
from livechart.spec import ChartSpec

SCALES = (1, 2)
# 窄版式的宽（逻辑像素）：手机竖屏上一张图大约这么宽（390 px 的屏幕减去页边）
NARROW_WIDTH = 400
# 窄版式的高宽比比宽版式高一些：手机上图不至于扁成一条
NARROW_ASPECT = 0.625

_PATTERN = re.compile(
    rf"(?P<chart>[A-Za-z0-9_-]+)(?:\.(?P<theme>{'|'.join(THEMES)}))?(?P<narrow>\.narrow)?"
    rf"(?:@(?P<scale>{'|'.join(str(s) for s in SCALES[1:])})x)?"
)


@dataclass(frozen=True)
class Variant:
    """一个变体。theme 为 None：图表自己的主题。"""

    theme: str | None = None
    narrow: bool = False
    scale: int = 1

    @property
    def suffix(self) -> str:
        """路径与图片标识的后缀（默认变体为空）。"""
        theme = f".{self.theme}" if self.theme else ""
        narrow = ".narrow" if self.narrow else ""
        scale = f"@{self.scale}x" if self.scale != 1 else ""
        return f"{theme}{narrow}{scale}"

    @property
    def default(self) -> bool:
        return self == DEFAULT


DEFAULT = Variant()


def every() -> list[Variant]:
    """所有的变体（含默认），主题写明的与不写的都在内：路径表与删除图表时用。"""
    return [Variant(theme, narrow, scale) for theme, narrow, scale in itertools.product((None, *THEMES), (False, True), SCALES)]


def normalized(variant: Variant, chart_theme: str) -> Variant:
    """主题与图表自己的主题相同的变体 → 不写主题的同一个变体（同一张图只画、只存一次）。"""
    return Variant(None, variant.narrow, variant.scale) if variant.theme == chart_theme else variant


def parse(stem: str) -> tuple[str, Variant] | None:
    """路径里 .png 之前的部分（如 cpu.dark@2x）→ (图表名, 变体)；不是这个格式时为 None。"""
    match = _PATTERN.fullmatch(stem)
    if match is None:
        return None
    return match["chart"], Variant(match["theme"], bool(match["narrow"]), int(match["scale"] or 1))


def image_id(chart: str, variant: Variant) -> str:
    """图片标识：缓存键、本进程的副本、新图通知都用它（默认变体就是图表名）。"""
    return f"{chart}{variant.suffix}"


def chart_of(image: str) -> str:
    """图片标识 → 图表名。"""
    return image.split(".", 1)[0].split("@", 1)[0]


def theme_of(variant: Variant, spec: ChartSpec) -> str:
    """变体实际用的主题。"""
    return variant.theme or spec.theme


def size(spec: ChartSpec, variant: Variant) -> tuple[int, int]:
    """变体的逻辑像素尺寸（宽, 高）；图片的像素尺寸再乘以倍率。窄版式不比图表本身宽。"""
    if not variant.narrow or spec.width <= NARROW_WIDTH:
        return spec.width, spec.height
    return NARROW_WIDTH, max(100, round(NARROW_WIDTH * max(NARROW_ASPECT, spec.height / spec.width)))
