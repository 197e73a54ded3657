"""主题：配色，以及由配色得到的 Matplotlib 样式（rcParams）。

内置类型直接用 Theme 的颜色；自定义的绘图函数（draw）在 style(theme) 的样式上下文里被调用，
新建的坐标轴、文字、刻度、网格、颜色循环自然跟着主题走，同一个函数画亮色、暗色两种图而不必知道。
本模块是纯绘图代码，不导入 Flask。
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from cycler import cycler


@dataclass(frozen=True)
class Theme:
    """配色。"""

    face: str
    text: str
    grid: str
    spine: str
    cycle: tuple[str, ...]


THEMES = {
    "light": Theme("#ffffff", "#1d2430", "#b0b7c3", "#8a93a0", ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")),
    "dark": Theme("#1a1f26", "#e6e9ee", "#4a5260", "#5b6472", ("#4e9bff", "#ffb454", "#5ed28a", "#ff6b6b", "#c08cff",
                  "#e0a070", "#ff8fd0", "#b0b0b0", "#e6e65c", "#4fd8e8")),
}  # fmt: skip


@cache
def style(name: str) -> dict[Any, Any]:
    """主题对应的 rcParams（传给 matplotlib.rc_context）。字体不在其中：CJK 回退字体在启动时全局设置（fonts.py）。"""
    theme = THEMES[name]
    return {
        "figure.facecolor": theme.face,
        "figure.edgecolor": theme.face,
        "savefig.facecolor": theme.face,
        "axes.facecolor": theme.face,
        "axes.edgecolor": theme.spine,
        "axes.labelcolor": theme.text,
        "axes.titlecolor": theme.text,
        "axes.prop_cycle": cycler(color=list(theme.cycle)),
        "text.color": theme.text,
        "xtick.color": theme.text,
        "ytick.color": theme.text,
        "grid.color": theme.grid,
        "legend.facecolor": theme.face,
        "legend.edgecolor": theme.spine,
        "legend.labelcolor": theme.text,
        "boxplot.flierprops.markeredgecolor": theme.text,
        "boxplot.medianprops.color": theme.cycle[1],
        "patch.edgecolor": theme.text,
    }
