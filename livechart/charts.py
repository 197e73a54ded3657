"""内置的时间序列类型：一个 keep=True 的绘图函数（timeseries），与自定义的 draw 函数走同一条路（livechart/renderer.py）。

第一次调用时在给它的 Figure 上建好全部图元（放在 context.artists 里），之后只原地更新数据。
不使用 pyplot（全局状态、会泄漏），不导入 Flask。

为什么不每次都完整重绘（bench/README.md 有测量）：标题、y 轴、网格、背景每次都一样，
却占了绘制时间的大半。这里把这些静态部分画一次、缓存为背景（Agg 的 copy_from_bbox），
每次只恢复背景，再画会变的部分（x 轴、数据图元、最新值标注、图例、“暂无数据”）。
y 轴范围变化时才重建背景；自动范围取整到刻度，所以很少变化。

版式按 Figure 实际的像素大小计算（800×400、手机用的 400×250、2 倍 dpi 都一样）：
- 任何文字、标记都不会被图片边缘裁掉：x 刻度标签离边缘太近时重新排版（只在刻度标签变宽时发生一次）；
- x 刻度按像素宽度限制个数，标签互不重叠（仍重叠时隐藏挤在一起的标签）；
- 日期按中文习惯（2026-11-25、11-25、14:42、14:42:30），不出现 “Nov” 或只有秒数的 “30”；
- 最新值标注放在最新数据点右侧预留的一条空白里（两个 y 轴的序列共用），在竖直方向上互相避让，
  同一个轴的标注用同样的小数位数与同一个二进制前缀；
- 数据中超过几个采样间隔的缺口画成断开（折线、阶梯、散点、面积），柱状图不受影响。

支持的类型：line、area（可堆叠）、bar（可堆叠，否则并排）、step、scatter；
序列可以画在右侧的第二 y 轴上。所有图元在创建时建好，之后只更新数据（不新增图元，内存平稳）。
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from livechart.chart_dates import MIN_SPAN
from livechart.chart_dates import SECONDS_PER_DAY
from livechart.chart_dates import NewestDateLocator
from livechart.chart_dates import date_formatter
from livechart.chart_gaps import gap_starts
from livechart.chart_gaps import runs
from livechart.chart_gaps import typical_step
from livechart.chart_units import rounding_locator
from livechart.chart_units import set_unit
from livechart.chart_units import value_formatter
from livechart.drawing import DrawContext
from livechart.drawing import Resolved
from livechart.quality import drawable
from livechart.sources.frames import empty_frame
from livechart.spec import ChartSpec
from livechart.spec import SeriesSpec
from livechart.themes import THEMES
from livechart.themes import Theme

# 版式里的留白，单位为字号（em）：文字离图片边缘（与 tight_layout 的 pad 相同，排版结果才只取决于当前这一帧）、
# 标注之间、标注与数据之间、相邻 x 刻度标签之间
EDGE_PAD_EM = 0.6
LABEL_PAD_EM = 0.5
LABEL_GAP_EM = 0.15
TICK_GAP_EM = 1.0
# 定刻度个数时每个 x 刻度标签占的宽度：标签本身加 3 em 的空白（疏朗易读，刻度文字也少画一些）
TICK_SPACING_EM = 3.0


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
    placed = []
    for total, count in groups:
        middle = center(total, int(count))
        placed.extend(middle + (k - (count - 1) / 2) * size for k in range(int(count)))
    return placed


@dataclass
class Drawn:
    """一条序列在图上的图元。"""

    series: SeriesSpec
    axes: Axes
    artist: Artist
    label: Artist | None
    unit: str


class TimeSeriesPlot:
    """一个 Figure 上的时间序列图：全部图元建一次，之后只更新数据，静态部分缓存为背景（局部重绘）。"""

    def __init__(self, figure: Figure, spec: ChartSpec, theme: Theme) -> None:
        self.spec = spec
        self.theme = theme
        self.figure = figure
        figure.set_facecolor(theme.face)
        self.canvas = figure.canvas
        self.axes = self.figure.add_subplot()
        self.right = self.axes.twinx() if spec.has_right_axis else None
        self.locator = NewestDateLocator()
        self._style()
        self.drawn = [self._create(series, index) for index, series in enumerate(spec.series)]
        self.empty_text = self.axes.text(
            0.5, 0.5, "暂无数据", transform=self.axes.transAxes, ha="center", va="center", color=theme.text, visible=False
        )
        legend = None
        if spec.legend:
            # 图例放在最上层的坐标轴上，盖住所有数据
            legend = (self.right or self.axes).legend(
                [d.artist for d in self.drawn], [d.series.label for d in self.drawn], loc="upper left", fontsize="small",
                facecolor=theme.face, edgecolor=theme.spine, labelcolor=theme.text, framealpha=1.0,
            )  # fmt: skip
        # 每次都要画的图元，按从下到上的顺序。图例不在其中：它不变，重建背景时把它的像素存下来，
        # 每次画完数据后贴回去（比重画图例省约 2 ms，见 bench/README.md）
        labels = [d.label for d in self.drawn if d.label is not None]
        self.dynamic: list[Artist] = [self.axes.xaxis, *(d.artist for d in self.drawn), *labels, self.empty_text]
        self.legend = legend
        self.legend_pixels: Any = None
        self.background: Any = None
        self.round_limits = {id(ax): rounding_locator(unit) for ax, unit in ((self.axes, spec.unit), (self.right, spec.y2unit))}
        # 版式（边距、x 刻度个数）对应的 (y 范围, 有没有日期角标, 坐标轴左右两端到图片边缘至少要留的像素)；
        # 不同就重新排版并重建背景。只取决于当前这一帧：复用的 Figure 与新建的画出同样的像素
        self.layout_key: tuple[Any, ...] | None = None
        # 这一帧要画的 x 刻度（_fit 算好，_draw_xaxis 直接用）
        self.ticks: list[Any] = []
        # 数据占的 x 范围（天）：右端是最新点（柱状图含半个柱宽的余量），最新值标注在它右边
        self.data_span = (0.0, 1.0)
        # 每条序列的最新值（只看有限值）及它在图上的高度（堆叠时为所在色带的中间）
        self.latest: list[tuple[Drawn, float, float]] = []
        # 轴 → (y 范围, 最新值的格式)，y 范围变了才重新计算
        self.value_formats: dict[int, tuple[Any, Callable[[float], str]]] = {}
        self.text_sizes: dict[tuple[str, float], tuple[float, float]] = {}

    def _style(self) -> None:
        """坐标轴、刻度、标题按主题与单位设置（只在创建时做一次）。"""
        spec, theme = self.spec, self.theme
        axes = [(self.axes, spec.unit, spec.ylabel, spec.ylim)]
        if self.right is not None:
            axes.append((self.right, spec.y2unit, spec.y2label, spec.y2lim))
        for ax, unit, label, limits in axes:
            ax.set_facecolor(theme.face)
            ax.set_ylabel(label, color=theme.text)
            ax.tick_params(colors=theme.text, which="both")
            for spine in ax.spines.values():
                spine.set_edgecolor(theme.spine)
            set_unit(ax, unit)
            if limits is not None:
                ax.set_ylim(*limits)
        if self.right is not None:
            self.right.patch.set_visible(False)
        self.axes.set_title(spec.title, color=theme.text)
        self.axes.grid(True, color=theme.grid, alpha=0.5, linewidth=0.6)
        self.axes.xaxis_date()
        # 滚动窗口从几秒到几天：自动定位 + 简洁格式，避免默认刻度重叠（docs/pitfalls.md 第 17 条）；
        # 刻度个数按像素宽度在排版时设定（NewestDateLocator.set_density）
        self.axes.xaxis.set_major_locator(self.locator)
        self.axes.xaxis.set_major_formatter(date_formatter(self.locator))

    def _create(self, series: SeriesSpec, index: int) -> Drawn:
        """按图表类型为一条序列创建（空的）图元。"""
        spec = self.spec
        on_right = series.axis == "right" and self.right is not None
        ax = self.right if on_right and self.right is not None else self.axes
        color = series.color or self.theme.cycle[index % len(self.theme.cycle)]
        artist: Artist
        if spec.kind in ("line", "step", "scatter"):
            style: dict[str, Any] = {"linewidth": 1.5}
            if spec.kind == "step":
                style["drawstyle"] = "steps-post"
            elif spec.kind == "scatter":
                style = {"linestyle": "none", "marker": "o", "markersize": 3}
            (artist,) = ax.plot([], [], color=color, label=series.label, **style)
        else:
            alpha = 0.85 if spec.kind == "bar" or spec.stacked else 0.35
            artist = PolyCollection([], facecolors=color, edgecolors=color if spec.kind == "area" else "none", alpha=alpha,
                                    linewidths=1.0, label=series.label)  # fmt: skip
            ax.add_collection(artist, autolim=False)
        label = None
        if spec.annotate_last:
            # 位置在 _place 里按像素算（坐标轴的比例坐标）；不参与 tight_layout
            label = self.axes.text(0, 0, "", color=color, fontsize="small", ha="left", va="center",
                                   transform=self.axes.transAxes, clip_on=False, visible=False)  # fmt: skip
            label.set_in_layout(False)
        return Drawn(series, ax, artist, label, spec.y2unit if on_right else spec.unit)

    # ------------------------------------------------------------ update

    def _stacks(self, frame: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """每条序列的 (底, 顶)：堆叠时逐条累加（缺失值按 0），否则底为 0。"""
        result = {}
        base: dict[int, np.ndarray] = {}
        for drawn in self.drawn:
            column = drawn.series.column
            if column not in frame.columns:
                raise ValueError(f"the data has no column {column!r} (columns: {', '.join(map(str, frame.columns))})")
            # ±inf、±1e308 之类超出范围的值不画（换成缺口）：一个这样的值不能把真实数据压扁或让范围溢出（livechart/quality.py）
            values = drawable(frame[column].to_numpy(dtype=float))
            if self.spec.stacked:
                bottom = base.get(id(drawn.axes), np.zeros(len(values)))
                top = bottom + np.nan_to_num(values)
                top[~np.isfinite(values)] = np.nan
                base[id(drawn.axes)] = np.where(np.isfinite(values), top, bottom)
                result[column] = (bottom, top)
            else:
                result[column] = (np.zeros(len(values)), values)
        return result

    def _bar_geometry(self, x: np.ndarray) -> tuple[float, float]:
        """柱宽与并排时每条序列的宽度（天）。"""
        spacing = float(np.median(np.diff(x))) if len(x) > 1 else 1 / SECONDS_PER_DAY
        width = 0.8 * spacing
        side_by_side = 1 if self.spec.stacked else len(self.drawn)
        return width, width / side_by_side

    def _update(self, frame: pd.DataFrame) -> None:
        """把窗口数据写入已有的图元，定下 y 范围与数据占的 x 范围（x 轴范围在 _place 里加上标注的位置）。"""
        x = mdates.date2num(frame.index.to_numpy()) if len(frame) else np.empty(0)
        stacks = self._stacks(frame)
        width, each = self._bar_geometry(x)
        breaks = gap_starts(x) if self.spec.kind != "bar" else np.empty(0, dtype=int)
        self.latest = []
        for index, drawn in enumerate(self.drawn):
            bottom, top = stacks[drawn.series.column]
            artist = drawn.artist
            if self.spec.kind == "area":
                # 缺失值与缺口处断开：每一段是一个单独的多边形
                polygons = [
                    np.concatenate([np.column_stack([x[part], top[part]]), np.column_stack([x[part], bottom[part]])[::-1]])
                    for part in runs(np.isfinite(top), breaks)
                ]
                artist.set_verts(polygons)
            elif self.spec.kind == "bar":
                left = x - width / 2 + (0 if self.spec.stacked else index * each)
                ok = np.isfinite(top)
                x0, x1, y0, y1 = left[ok], left[ok] + each, bottom[ok], top[ok]
                corners = ((x0, y0), (x0, y1), (x1, y1), (x1, y0))
                artist.set_verts(np.stack([np.column_stack(corner) for corner in corners], axis=1))
            elif len(breaks):
                # 缺口处插入一个 NaN 点把线断开；阶梯图的最后一级保持一个典型间隔
                xs = np.insert(x, breaks + 1, x[breaks] + typical_step(x))
                artist.set_data(xs, np.insert(top, breaks + 1, np.nan))
            else:
                artist.set_data(x, top)
            if drawn.label is not None:
                ok = np.flatnonzero(np.isfinite(top))
                if len(ok):
                    last = ok[-1]
                    value = top[last] - bottom[last] if self.spec.stacked else top[last]
                    height = (top[last] + bottom[last]) / 2 if self.spec.stacked else top[last]
                    self.latest.append((drawn, float(value), float(height)))
        self.empty_text.set_visible(len(x) == 0)
        right = x[-1] if len(x) else mdates.date2num(pd.Timestamp.now())
        if self.spec.span is not None:
            left = right - self.spec.span / SECONDS_PER_DAY
        else:
            left = min(x[0], right - MIN_SPAN) if len(x) else right - MIN_SPAN
        if self.spec.kind == "bar":
            left, right = left - width, right + width
        self.data_span = (float(left), float(right))
        if self.spec.ylim is None:
            self.axes.set_ylim(*self._auto_ylim(self.axes, stacks))
        if self.right is not None and self.spec.y2lim is None:
            self.right.set_ylim(*self._auto_ylim(self.right, stacks))

    def _auto_ylim(self, ax: Axes, stacks: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
        """自动 y 范围：数据范围留 5 % 余量后向外取整到刻度值，数据小幅变化时范围不变。

        面积图和柱状图从 0 开始（数据全为正时）。超出范围的值在 _stacks 里已换成 NaN，这里只看有限值。
        最新值标注在数据右侧的空白里，不需要在上方留空间。
        """
        filled = self.spec.kind in ("area", "bar")
        mine = [stacks[d.series.column] for d in self.drawn if d.axes is ax]
        values = np.concatenate([np.concatenate((b, t)) if filled else t for b, t in mine] or [np.empty(0)])
        values = values[np.isfinite(values)]
        if values.size == 0:
            return (0.0, 1.0)
        low, high = float(values.min()), float(values.max())
        pad = (high - low) * 0.05 or abs(high) * 0.05 or 0.5
        lower = 0.0 if filled and low >= 0 else low - pad
        ticks = self.round_limits[id(ax)].tick_values(lower, high + pad)
        return (float(ticks[0]), float(ticks[-1]))

    # ------------------------------------------------------------ layout

    def _px(self, em: float, size: float | None = None) -> float:
        """em（默认按 x 刻度标签的字号）→ 像素（随 dpi 缩放）。"""
        points = size if size is not None else self._tick_font().get_size_in_points()
        return em * points * self.figure.dpi / 72

    def _tick_font(self) -> FontProperties:
        """x 刻度标签的字体（get_major_ticks 给出个数时不调用定位器）。"""
        return self.axes.xaxis.get_major_ticks(1)[0].label1.get_fontproperties()

    def _text_size(self, renderer: Any, text: str, font: FontProperties) -> tuple[float, float]:
        """一段文字的像素宽高（缓存；字符串在滚动中反复出现）。"""
        key = (text, font.get_size_in_points())
        size = self.text_sizes.get(key)
        if size is None:
            if len(self.text_sizes) > 2048:
                self.text_sizes.clear()
            width, height, _descent = renderer.get_text_width_height_descent(text, font, ismath=False)
            size = self.text_sizes[key] = (width, height)
        return size

    def _layout(self, renderer: Any, key: tuple[Any, ...]) -> None:
        """按 Figure 的实际像素排版：tight_layout，再保证 x 刻度标签离左右边缘足够远，再按宽度定 x 刻度个数。

        x 刻度标签以刻度为中心，刻度落在坐标轴两端时标签有一半伸出坐标轴；滚动窗口里这样的刻度时有时无，
        所以两端都预留最宽标签的一半（key[2]），而不是只看排版这一刻的标签。"""
        self.figure.tight_layout(pad=EDGE_PAD_EM)
        width = self.figure.bbox.width
        pars = self.figure.subplotpars
        need = min(key[2] / width, 0.3)
        self.figure.subplots_adjust(left=max(pars.left, need), right=min(pars.right, 1 - need))
        self._set_tick_density(renderer)
        self.layout_key = key
        self.background = None

    def _set_tick_density(self, renderer: Any) -> None:
        """每种刻度频率最多几个刻度（NewestDateLocator.set_density，窄图上刻度更少）。"""
        font = self._tick_font()
        self.locator.set_density(
            self.axes.bbox.width,
            self._px(TICK_SPACING_EM),
            lambda text: self._text_size(renderer, text, font)[0],
            1 if self.spec.annotate_last else 0,
        )

    def _place(self, renderer: Any) -> None:
        """最新值标注的文字与位置，以及 x 轴范围（数据右侧留出放标注的空白）。"""
        left, right = self.data_span
        strip = self._label_strip(renderer) if self.latest else 0.0
        room = self.axes.bbox.width
        share = min(strip / room, 0.6) if room > 0 else 0.0
        self.axes.set_xlim(left, right + (right - left) * share / (1 - share))
        self.locator.limit = right if strip else np.inf
        if self.latest:
            self._stack_labels(renderer, room * share)
        else:
            for drawn in self.drawn:
                if drawn.label is not None:
                    drawn.label.set_visible(False)

    def _value_format(self, drawn: Drawn) -> Callable[[float], str]:
        """drawn 所在轴的最新值格式（y 范围变了才重新计算）。"""
        ax = drawn.axes
        limits = ax.get_ylim()
        cached = self.value_formats.get(id(ax))
        if cached is None or cached[0] != limits:
            ticks = np.asarray(ax.yaxis.get_major_locator().tick_values(*limits))
            step = float(np.min(np.diff(ticks))) if len(ticks) > 1 else abs(limits[1] - limits[0])
            cached = self.value_formats[id(ax)] = (limits, value_formatter(drawn.unit, *limits, step))
        return cached[1]

    def _label_strip(self, renderer: Any) -> float:
        """标注文字定下来，返回最新点右侧要留的像素宽度：最宽的标注（以及轴两端的值，宽度少随数值跳动）加留白。"""
        widest = 0.0
        for drawn, value, _height in self.latest:
            text = self._value_format(drawn)(value)
            assert drawn.label is not None
            drawn.label.set_text(text)
            font = drawn.label.get_fontproperties()
            ends = [self._value_format(drawn)(end) for end in drawn.axes.get_ylim()]
            widest = max(widest, *(self._text_size(renderer, t, font)[0] for t in (text, *ends)))
        font = self.drawn[0].label.get_fontproperties() if self.drawn[0].label is not None else self._tick_font()
        pad = self._px(LABEL_PAD_EM, font.get_size_in_points())
        marker = self._px(0.5, 3) if self.spec.kind == "scatter" else self._px(0.5, 1.5)
        return widest + 2 * pad + marker

    def _stack_labels(self, renderer: Any, strip: float) -> None:
        """标注放进右侧的空白：尽量与各自的最新值等高，在竖直方向上互不重叠，也不碰到上下边框。"""
        box = self.axes.bbox
        font = self.latest[0][0].label.get_fontproperties()  # type: ignore[union-attr]
        size = font.get_size_in_points()
        pad, gap = self._px(LABEL_PAD_EM, size), self._px(LABEL_GAP_EM, size)
        # 单行文字外框的高度 = max(文字本身, "lp" 的高度)（Matplotlib 的 Text._get_layout）
        height = max(self._text_size(renderer, text, font)[1] for text in ("lp", "0123456789%"))
        wanted = []
        for order, (drawn, _value, level) in enumerate(self.latest):
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
        x = (box.width - strip + pad + (self._px(0.5, 3) if self.spec.kind == "scatter" else self._px(0.5, 1.5))) / box.width
        visible = {id(drawn) for _, _, drawn in shown}
        for drawn in self.drawn:
            if drawn.label is not None:
                drawn.label.set_visible(id(drawn) in visible)
        for (_, _, drawn), y in zip(shown, placed, strict=True):
            assert drawn.label is not None
            drawn.label.set_position((x, (y - box.y0) / box.height))

    def _tick_check(self, renderer: Any, ticks: list[Any]) -> float:
        """隐藏与左边已显示的标签重叠的 x 刻度标签；返回本帧标签要求的边距（最宽标签的一半加留白，取整的像素）。"""
        font = self._tick_font()
        gap = self._px(TICK_GAP_EM) / 2
        widest, previous = 0.0, -np.inf
        centers = self.axes.transData.transform(np.column_stack([[t.get_loc() for t in ticks], np.zeros(len(ticks))]))[:, 0]
        for tick, center in zip(ticks, centers, strict=True):
            width = self._text_size(renderer, tick.label1.get_text(), font)[0]
            widest = max(widest, width)
            fits = center - width / 2 >= previous + gap
            tick.label1.set_visible(fits)
            if fits:
                previous = center + width / 2
        return float(math.ceil(widest / 2 + self._px(EDGE_PAD_EM)))

    def _fit(self) -> None:
        """排版（需要时）、摆放标注、算好这一帧的 x 刻度；刻度标签会碰到图片边缘时加大边距重新排版。"""
        renderer = self.canvas.get_renderer()
        limits = (self.axes.get_ylim(), self.right.get_ylim() if self.right is not None else None)
        axis = self.axes.xaxis
        for attempt in range(3):
            self._place(renderer)
            ticks = axis._update_ticks()
            need = self._tick_check(renderer, ticks) if ticks else 0.0
            key = (limits, bool(axis.major.formatter.get_offset()), need)
            if key == self.layout_key:
                break
            if attempt == 2:
                # 仍放不下（极窄的图）：宁可不画碰到边缘的标签
                width, pad = self.figure.bbox.width, self._px(EDGE_PAD_EM)
                for tick in ticks:
                    extent = tick.label1.get_window_extent(renderer)
                    if extent.x0 < pad or extent.x1 > width - pad:
                        tick.label1.set_visible(False)
                break
            self._layout(renderer, key)
        self.ticks = ticks

    # ------------------------------------------------------------ draw

    def _draw(self) -> None:
        """恢复（必要时重建）静态背景，再画会变的图元。"""
        if self.background is None:
            shown = [artist.get_visible() for artist in self.dynamic]
            for artist in self.dynamic:
                artist.set_visible(False)
            self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
            if self.legend is not None:
                box = self.legend.get_window_extent(self.canvas.get_renderer()).padded(2)
                self.legend_pixels = self.canvas.copy_from_bbox(box)
            for artist, visible in zip(self.dynamic, shown, strict=True):
                artist.set_visible(visible)
            rebuilt = True
        else:
            self.canvas.restore_region(self.background)
            rebuilt = False
        renderer = self.canvas.get_renderer()
        for artist in self.dynamic:
            if artist is self.axes.xaxis:
                self._draw_xaxis(renderer, place_offset=rebuilt)
            elif artist.get_visible():
                self.figure.draw_artist(artist)
        if self.legend_pixels is not None:
            self.canvas.restore_region(self.legend_pixels)

    def _draw_xaxis(self, renderer: Any, place_offset: bool) -> None:
        """画 x 轴：与 XAxis.draw 画出同样的像素，但只算一次刻度（已在 _fit 里算好）。

        XAxis.draw 每次要算三遍刻度（定位器 + 格式化器），还要量出所有刻度标签的外框来摆放
        x 轴标题和偏移文字——这些占了 x 轴绘制时间的约三分之一（bench/README.md 的剖析）。
        这里没有 x 轴标题；偏移文字（ConciseDateFormatter 的日期）的位置只取决于标签的高度，
        只在重建背景时量一次。用到的是 Matplotlib 的私有方法（版本固定在 requirements.txt，
        golden 图像测试逐像素检查结果不变）。
        """
        axis = self.axes.xaxis
        ticks = self.ticks
        if place_offset:
            axis._update_offset_text_position(*axis._get_ticklabel_bboxes(ticks, renderer))
        for tick in ticks:
            tick.draw(renderer)
        axis.offsetText.set_text(axis.major.formatter.get_offset())
        axis.offsetText.draw(renderer)

    def draw(self, frame: pd.DataFrame) -> None:
        """把窗口数据画到画布上（局部重绘），并把 Figure 标记为已画好：绘制器不再整体重画（livechart/renderer.py）。"""
        self._update(frame)
        self._fit()
        self._draw()
        self.figure.stale = False


def timeseries(figure: Figure, data: pd.DataFrame | None, context: DrawContext, *, spec: ChartSpec) -> None:
    """内置类型的绘图函数（keep=True）：第一次调用时建图，之后只更新数据。"""
    plot = context.artists.get("plot")
    if plot is None:
        plot = context.artists["plot"] = TimeSeriesPlot(figure, spec, THEMES[context.theme])
    plot.draw(data if data is not None else empty_frame([series.column for series in spec.series]))


def builtin(spec: ChartSpec) -> Resolved:
    """内置类型（line、area、bar、step、scatter）的绘图函数：与 draw 指定的函数同一个接口。"""
    return Resolved(timeseries, takes_context=True, kwargs={"spec": spec}, keep=True, builtin=True)
