"""最新值标注：每条序列的最新值写在最新数据点右侧预留的一条空白里（两个 y 轴的序列共用）。

标注在竖直方向上互相避让，不碰上下边框；同一个轴的标注用同样的小数位数与同一个二进制前缀
（livechart/chart_units.py）。放不下时从最后一条序列起不再标注。
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.text import Text

from livechart.chart_kinds import Drawn
from livechart.chart_layout import TextMetrics
from livechart.chart_units import value_formatter

# 留白，单位为字号（em）：标注与数据之间、标注之间
LABEL_PAD_EM = 0.5
LABEL_GAP_EM = 0.15

# 一条序列的最新值（只看有限值）及它在图上的高度（堆叠时为所在色带的中间）
Latest = tuple[Drawn, float, float]


def spread(wanted: list[float], low: float, high: float, size: float) -> list[float] | None:
    """把一组标注的竖直中心（像素，已按从下到上排序）调整到 [low, high] 里且两两相距至少 size，尽量靠近原位。

    挤在一起的标注合成一组，组的中心取组员原位的平均（与原位的平方误差最小），再限制在范围内；
    相邻两组碰上就再合并。放不下时返回 None。"""
    if not wanted:
        return []
    if (len(wanted) - 1) * size > high - low:
        return None

    def center(total: float, count: int) -> float:
        half = (count - 1) * size / 2
        return min(max(total / count, low + half), high - half)

    groups: list[list[float]] = []  # [原位之和, 个数]
    for y in wanted:
        groups.append([y, 1])
        while len(groups) > 1:
            (total1, count1), (total2, count2) = groups[-2], groups[-1]
            top = center(total1, int(count1)) + (count1 - 1) * size / 2
            bottom = center(total2, int(count2)) - (count2 - 1) * size / 2
            if bottom - top >= size:
                break
            groups[-2:] = [[total1 + total2, count1 + count2]]
    placed: list[float] = []
    for total, count in groups:
        middle = center(total, int(count))
        placed.extend(middle + (k - (count - 1) / 2) * size for k in range(int(count)))
    return placed


def create_label(axes: Axes, color: str) -> Text:
    """一条序列的（空的、隐藏的）最新值标注：位置在 LastValueLabels.place 里按像素算（坐标轴的比例坐标）；不参与 tight_layout。"""
    label = axes.text(0, 0, "", color=color, fontsize="small", ha="left", va="center",
                      transform=axes.transAxes, clip_on=False, visible=False)  # fmt: skip
    label.set_in_layout(False)
    return label


def latest_value(bottom: np.ndarray, top: np.ndarray, stacked: bool) -> tuple[float, float] | None:
    """一条序列的最新值（只看有限值）与它在图上的高度（堆叠时为所在色带的中间）；没有有限值时为 None。"""
    ok = np.flatnonzero(np.isfinite(top))
    if not len(ok):
        return None
    last = ok[-1]
    value = top[last] - bottom[last] if stacked else top[last]
    height = (top[last] + bottom[last]) / 2 if stacked else top[last]
    return float(value), float(height)


class LastValueLabels:
    """一张图上全部序列的最新值标注：定下文字、量出右侧要留的空白、在空白里摆放。"""

    def __init__(self, axes: Axes, drawn: list[Drawn], kind: str, metrics: TextMetrics) -> None:
        self.axes = axes
        self.drawn = drawn
        self.kind = kind
        self.metrics = metrics
        # 轴 → (y 范围, 最新值的格式)，y 范围变了才重新计算
        self.value_formats: dict[int, tuple[Any, Callable[[float], str]]] = {}

    def value_format(self, drawn: Drawn) -> Callable[[float], str]:
        """drawn 所在轴的最新值格式（y 范围变了才重新计算）。"""
        ax = drawn.axes
        limits = ax.get_ylim()
        cached = self.value_formats.get(id(ax))
        if cached is None or cached[0] != limits:
            ticks = np.asarray(ax.yaxis.get_major_locator().tick_values(*limits))
            step = float(np.min(np.diff(ticks))) if len(ticks) > 1 else abs(limits[1] - limits[0])
            cached = self.value_formats[id(ax)] = (limits, value_formatter(drawn.unit, *limits, step))
        return cached[1]

    def _marker(self) -> float:
        """最新数据点的标记伸到右侧的像素（散点的半径，或折线宽度的一半）。"""
        return self.metrics.px(0.5, 3) if self.kind == "scatter" else self.metrics.px(0.5, 1.5)

    def strip(self, renderer: Any, latest: list[Latest]) -> float:
        """标注文字定下来，返回最新点右侧要留的像素宽度：最宽的标注（以及轴两端的值，宽度少随数值跳动）加留白。"""
        widest = 0.0
        for drawn, value, _height in latest:
            text = self.value_format(drawn)(value)
            assert drawn.label is not None
            drawn.label.set_text(text)
            font = drawn.label.get_fontproperties()
            ends = [self.value_format(drawn)(end) for end in drawn.axes.get_ylim()]
            widest = max(widest, *(self.metrics.size(renderer, t, font)[0] for t in (text, *ends)))
        font = self.drawn[0].label.get_fontproperties() if self.drawn[0].label is not None else self.metrics.tick_font()
        pad = self.metrics.px(LABEL_PAD_EM, font.get_size_in_points())
        return widest + 2 * pad + self._marker()

    def place(self, renderer: Any, latest: list[Latest], strip: float) -> None:
        """标注放进右侧宽 strip 像素的空白：尽量与各自的最新值等高，在竖直方向上互不重叠，也不碰到上下边框。"""
        box = self.axes.bbox
        font = latest[0][0].label.get_fontproperties()  # type: ignore[union-attr]
        size = font.get_size_in_points()
        pad, gap = self.metrics.px(LABEL_PAD_EM, size), self.metrics.px(LABEL_GAP_EM, size)
        # 单行文字外框的高度 = max(文字本身, "lp" 的高度)（Matplotlib 的 Text._get_layout）
        height = max(self.metrics.size(renderer, text, font)[1] for text in ("lp", "0123456789%"))
        wanted = []
        for order, (drawn, _value, level) in enumerate(latest):
            y = float(drawn.axes.transData.transform((0.0, level))[1])
            wanted.append((y if np.isfinite(y) else box.y0, order, drawn))
        wanted.sort(key=lambda item: item[:2])
        low, high = box.y0 + gap + height / 2, box.y1 - gap - height / 2
        shown = list(wanted)
        placed = spread([y for y, _, _ in shown], low, high, height + gap)
        while placed is None:
            # 放不下（很矮的图、很多序列）：从最后一条序列起不再标注，剩下的互不重叠
            shown.remove(max(shown, key=lambda item: item[1]))
            placed = spread([y for y, _, _ in shown], low, high, height + gap)
        x = (box.width - strip + pad + self._marker()) / box.width
        visible = {id(drawn) for _, _, drawn in shown}
        for drawn in self.drawn:
            if drawn.label is not None:
                drawn.label.set_visible(id(drawn) in visible)
        for (_, _, drawn), y in zip(shown, placed, strict=True):
            assert drawn.label is not None
            drawn.label.set_position((x, (y - box.y0) / box.height))

    def hide(self) -> None:
        """没有最新值（空窗口、全是缺失值）：不显示任何标注。"""
        for drawn in self.drawn:
            if drawn.label is not None:
                drawn.label.set_visible(False)
