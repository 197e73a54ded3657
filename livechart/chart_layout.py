"""按 Figure 实际的像素大小排版（800×400、手机用的 400×250、2 倍 dpi 都一样）。

- 任何文字都不会被图片边缘裁掉：x 刻度标签离边缘太近时重新排版（只在刻度标签变宽时发生一次）；
- x 刻度按像素宽度限制个数，标签互不重叠（仍重叠时隐藏挤在一起的标签）。
排版结果只取决于当前这一帧：复用的 Figure 与新建的画出同样的像素。
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from livechart.chart_dates import NewestDateLocator

# 版式里的留白，单位为字号（em）：文字离图片边缘（与 tight_layout 的 pad 相同，排版结果才只取决于当前这一帧）、
# 相邻 x 刻度标签之间
EDGE_PAD_EM = 0.6
TICK_GAP_EM = 1.0
# 定刻度个数时每个 x 刻度标签占的宽度：标签本身加 3 em 的空白（疏朗易读，刻度文字也少画一些）
TICK_SPACING_EM = 3.0


class TextMetrics:
    """长度换算与量文字（像素，随 dpi 缩放）：版式与最新值标注共用；量过的文字缓存起来。"""

    def __init__(self, figure: Figure, axes: Axes) -> None:
        self.figure = figure
        self.axes = axes
        self.sizes: dict[tuple[str, float], tuple[float, float]] = {}

    def px(self, em: float, size: float | None = None) -> float:
        """em（默认按 x 刻度标签的字号）→ 像素（随 dpi 缩放）。"""
        points = size if size is not None else self.tick_font().get_size_in_points()
        return em * points * self.figure.dpi / 72

    def tick_font(self) -> FontProperties:
        """x 刻度标签的字体（get_major_ticks 给出个数时不调用定位器）。"""
        return self.axes.xaxis.get_major_ticks(1)[0].label1.get_fontproperties()

    def size(self, renderer: Any, text: str, font: FontProperties) -> tuple[float, float]:
        """一段文字的像素宽高（缓存；字符串在滚动中反复出现）。"""
        key = (text, font.get_size_in_points())
        size = self.sizes.get(key)
        if size is None:
            if len(self.sizes) > 2048:
                self.sizes.clear()
            width, height, _descent = renderer.get_text_width_height_descent(text, font, ismath=False)
            size = self.sizes[key] = (width, height)
        return size


class Layout:
    """一个 Figure 的版式：边距与 x 刻度个数；版式对应的条件变了才重新排版。"""

    def __init__(self, figure: Figure, axes: Axes, locator: NewestDateLocator, metrics: TextMetrics, extra_ticks: int) -> None:
        self.figure = figure
        self.axes = axes
        self.locator = locator
        self.metrics = metrics
        # 最新值标注占去右侧一段时多允许的 x 刻度个数（NewestDateLocator.set_density）
        self.extra_ticks = extra_ticks
        # 版式（边距、x 刻度个数）对应的 (y 范围, 有没有日期角标, 坐标轴左右两端到图片边缘至少要留的像素)；
        # 不同就重新排版。只取决于当前这一帧：复用的 Figure 与新建的画出同样的像素
        self.key: tuple[Any, ...] | None = None

    def fit(self, renderer: Any, limits: Any, place: Callable[[Any], None]) -> tuple[list[Any], bool]:
        """排版（需要时）、摆放标注（place）、算好这一帧的 x 刻度；刻度标签会碰到图片边缘时加大边距重新排版。

        limits 为各 y 轴的范围（变了就重新排版）。返回这一帧的 x 刻度，以及是否重新排过版（要重建背景）。"""
        axis = self.axes.xaxis
        relaid = False
        for attempt in range(3):
            place(renderer)
            ticks = axis._update_ticks()  # type: ignore[attr-defined]  # 私有方法，见 charts.TimeSeriesPlot._draw_xaxis
            need = self._check_ticks(renderer, ticks) if ticks else 0.0
            key = (limits, bool(axis.get_major_formatter().get_offset()), need)
            if key == self.key:
                break
            if attempt == 2:
                # 仍放不下（极窄的图）：宁可不画碰到边缘的标签
                width, pad = self.figure.bbox.width, self.metrics.px(EDGE_PAD_EM)
                for tick in ticks:
                    extent = tick.label1.get_window_extent(renderer)
                    if extent.x0 < pad or extent.x1 > width - pad:
                        tick.label1.set_visible(False)
                break
            self._arrange(renderer, key)
            relaid = True
        return ticks, relaid

    def _arrange(self, renderer: Any, key: tuple[Any, ...]) -> None:
        """按 Figure 的实际像素排版：tight_layout，再保证 x 刻度标签离左右边缘足够远，再按宽度定 x 刻度个数。

        x 刻度标签以刻度为中心，刻度落在坐标轴两端时标签有一半伸出坐标轴；滚动窗口里这样的刻度时有时无，
        所以两端都预留最宽标签的一半（key[2]），而不是只看排版这一刻的标签。"""
        self.figure.tight_layout(pad=EDGE_PAD_EM)
        width = self.figure.bbox.width
        pars = self.figure.subplotpars
        need = min(key[2] / width, 0.3)
        self.figure.subplots_adjust(left=max(pars.left, need), right=min(pars.right, 1 - need))
        font = self.metrics.tick_font()
        self.locator.set_density(
            self.axes.bbox.width,
            self.metrics.px(TICK_SPACING_EM),
            lambda text: self.metrics.size(renderer, text, font)[0],
            self.extra_ticks,
        )
        self.key = key

    def _check_ticks(self, renderer: Any, ticks: list[Any]) -> float:
        """隐藏与左边已显示的标签重叠的 x 刻度标签；返回本帧标签要求的边距（最宽标签的一半加留白，取整的像素）。"""
        font = self.metrics.tick_font()
        gap = self.metrics.px(TICK_GAP_EM) / 2
        widest, previous = 0.0, -np.inf
        centers = self.axes.transData.transform(np.column_stack([[t.get_loc() for t in ticks], np.zeros(len(ticks))]))[:, 0]
        for tick, center in zip(ticks, centers, strict=True):
            width = self.metrics.size(renderer, tick.label1.get_text(), font)[0]
            widest = max(widest, width)
            fits = center - width / 2 >= previous + gap
            tick.label1.set_visible(fits)
            if fits:
                previous = center + width / 2
        return float(math.ceil(widest / 2 + self.metrics.px(EDGE_PAD_EM)))
