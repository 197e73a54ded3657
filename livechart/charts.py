"""内置的时间序列类型：一个 keep=True 的绘图函数（timeseries），与自定义的 draw 函数走同一条路（livechart/renderer.py）。

第一次调用时在给它的 Figure 上建好全部图元（放在 context.artists 里），之后只原地更新数据。
不使用 pyplot（全局状态、会泄漏），不导入 Flask。

为什么不每次都完整重绘（bench/README.md 有测量）：标题、y 轴、网格、背景每次都一样，
却占了绘制时间的大半。这里把这些静态部分画一次、缓存为背景（Agg 的 copy_from_bbox），
每次只恢复背景，再画会变的部分（x 轴、数据图元、最新值标注、图例、“暂无数据”）。
y 轴范围变化时才重建背景；自动范围取整到刻度，所以很少变化。

这个模块把各部分组装起来，各部分在自己的模块里：
- 版式按 Figure 实际的像素大小计算，任何文字、标记都不会被图片边缘裁掉，x 刻度标签互不重叠（livechart/chart_layout.py）；
- 日期按中文习惯（2026-11-25、11-25、14:42、14:42:30），不出现 “Nov” 或只有秒数的 “30”（livechart/chart_dates.py）；
- 最新值标注放在最新数据点右侧预留的一条空白里（两个 y 轴的序列共用），在竖直方向上互相避让，
  同一个轴的标注用同样的小数位数与同一个二进制前缀（livechart/chart_labels.py、livechart/chart_units.py）；
- 数据中超过几个采样间隔的缺口画成断开（折线、阶梯、散点、面积），柱状图不受影响（livechart/chart_gaps.py）；
- 每种类型的图元怎么建、数据怎么写进去（livechart/chart_kinds.py）。

支持的类型：line、area（可堆叠）、bar（可堆叠，否则并排）、step、scatter；
序列可以画在右侧的第二 y 轴上。所有图元在创建时建好，之后只更新数据（不新增图元，内存平稳）。
"""

from __future__ import annotations

from typing import Any
from typing import cast

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from livechart.chart_dates import MIN_SPAN
from livechart.chart_dates import SECONDS_PER_DAY
from livechart.chart_dates import NewestDateLocator
from livechart.chart_dates import date_formatter
from livechart.chart_gaps import gap_starts
from livechart.chart_kinds import Drawn
from livechart.chart_kinds import bar_geometry
from livechart.chart_kinds import create_artist
from livechart.chart_kinds import show
from livechart.chart_kinds import stacks
from livechart.chart_labels import LastValueLabels
from livechart.chart_labels import Latest
from livechart.chart_labels import create_label
from livechart.chart_labels import latest_value
from livechart.chart_layout import Layout
from livechart.chart_layout import TextMetrics
from livechart.chart_units import rounding_locator
from livechart.chart_units import set_unit
from livechart.drawing import DrawContext
from livechart.drawing import Resolved
from livechart.sources.frames import empty_frame
from livechart.spec import ChartSpec
from livechart.spec import SeriesSpec
from livechart.themes import THEMES
from livechart.themes import Theme


class TimeSeriesPlot:
    """一个 Figure 上的时间序列图：全部图元建一次，之后只更新数据，静态部分缓存为背景（局部重绘）。"""

    def __init__(self, figure: Figure, spec: ChartSpec, theme: Theme) -> None:
        self.spec = spec
        self.theme = theme
        self.figure = figure
        figure.set_facecolor(theme.face)
        # livechart 只用 Agg（包的 __init__ 里选定）：局部重绘要用它的 copy_from_bbox / restore_region
        self.canvas = cast(FigureCanvasAgg, figure.canvas)
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
        # 量文字、版式（边距、x 刻度个数）与最新值标注：排版只取决于当前这一帧，复用的 Figure 与新建的画出同样的像素
        self.metrics = TextMetrics(figure, self.axes)
        self.layout = Layout(figure, self.axes, self.locator, self.metrics, 1 if spec.annotate_last else 0)
        self.labels = LastValueLabels(self.axes, self.drawn, spec.kind or "line", self.metrics)
        # 这一帧要画的 x 刻度（_fit 算好，_draw_xaxis 直接用）
        self.ticks: list[Any] = []
        # 数据占的 x 范围（天）：右端是最新点（柱状图含半个柱宽的余量），最新值标注在它右边
        self.data_span = (0.0, 1.0)
        # 每条序列的最新值（只看有限值）及它在图上的高度（堆叠时为所在色带的中间）
        self.latest: list[Latest] = []

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
        """按图表类型为一条序列创建（空的）图元，要标注最新值时再加一个（隐藏的）标注。"""
        spec = self.spec
        on_right = series.axis == "right" and self.right is not None
        ax = self.right if on_right and self.right is not None else self.axes
        color = series.color or self.theme.cycle[index % len(self.theme.cycle)]
        artist = create_artist(ax, spec, color, series.label)
        label = create_label(self.axes, color) if spec.annotate_last else None
        return Drawn(series, ax, artist, label, spec.y2unit if on_right else spec.unit)

    # ------------------------------------------------------------ update

    def _update(self, frame: pd.DataFrame) -> None:
        """把窗口数据写入已有的图元，定下 y 范围与数据占的 x 范围（x 轴范围在 _place 里加上标注的位置）。"""
        x = mdates.date2num(frame.index.to_numpy()) if len(frame) else np.empty(0)
        columns = stacks(frame, self.drawn, self.spec.stacked)
        width, each = bar_geometry(x, self.spec.stacked, len(self.drawn))
        breaks = gap_starts(x) if self.spec.kind != "bar" else np.empty(0, dtype=int)
        self.latest = []
        for index, drawn in enumerate(self.drawn):
            column = columns[drawn.series.column]
            show(drawn.artist, self.spec, index, x, column, breaks, (width, each))
            latest = latest_value(*column, self.spec.stacked) if drawn.label is not None else None
            if latest is not None:
                self.latest.append((drawn, *latest))
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
            self.axes.set_ylim(*self._auto_ylim(self.axes, columns))
        if self.right is not None and self.spec.y2lim is None:
            self.right.set_ylim(*self._auto_ylim(self.right, columns))

    def _auto_ylim(self, ax: Axes, columns: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
        """自动 y 范围：数据范围留 5 % 余量后向外取整到刻度值，数据小幅变化时范围不变。

        面积图和柱状图从 0 开始（数据全为正时）。超出范围的值在 stacks 里已换成 NaN，这里只看有限值。
        最新值标注在数据右侧的空白里，不需要在上方留空间。
        """
        filled = self.spec.kind in ("area", "bar")
        mine = [columns[d.series.column] for d in self.drawn if d.axes is ax]
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

    def _place(self, renderer: Any) -> None:
        """最新值标注的文字与位置，以及 x 轴范围（数据右侧留出放标注的空白）。"""
        left, right = self.data_span
        strip = self.labels.strip(renderer, self.latest) if self.latest else 0.0
        room = self.axes.bbox.width
        share = min(strip / room, 0.6) if room > 0 else 0.0
        self.axes.set_xlim(left, right + (right - left) * share / (1 - share))
        self.locator.limit = right if strip else np.inf
        if self.latest:
            self.labels.place(renderer, self.latest, room * share)
        else:
            self.labels.hide()

    def _fit(self) -> None:
        """排版（需要时）、摆放标注、算好这一帧的 x 刻度（livechart/chart_layout.py）；重新排过版就要重建背景。"""
        renderer = self.canvas.get_renderer()
        limits = (self.axes.get_ylim(), self.right.get_ylim() if self.right is not None else None)
        self.ticks, relaid = self.layout.fit(renderer, limits, self._place)
        if relaid:
            self.background = None

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
            axis._update_offset_text_position(*axis._get_ticklabel_bboxes(ticks, renderer))  # type: ignore[attr-defined]
        for tick in ticks:
            tick.draw(renderer)
        axis.offsetText.set_text(axis.get_major_formatter().get_offset())
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
