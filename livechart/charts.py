"""内置的时间序列类型：一个 keep=True 的绘图函数（timeseries），与自定义的 draw 函数走同一条路（livechart/renderer.py）。

第一次调用时在给它的 Figure 上建好全部图元（放在 context.artists 里），之后只原地更新数据。
不使用 pyplot（全局状态、会泄漏），不导入 Flask。

为什么不每次都完整重绘（bench/README.md 有测量）：标题、y 轴、网格、背景每次都一样，
却占了绘制时间的大半。这里把这些静态部分画一次、缓存为背景（Agg 的 copy_from_bbox），
每次只恢复背景，再画会变的部分（x 轴、数据图元、最新值标注、图例、“暂无数据”）。
y 轴范围变化时才重建背景；自动范围取整到刻度，所以很少变化。

支持的类型：line、area（可堆叠）、bar（可堆叠，否则并排）、step、scatter；
序列可以画在右侧的第二 y 轴上。所有图元在创建时建好，之后只更新数据（不新增图元，内存平稳）。
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from matplotlib.ticker import Locator
from matplotlib.ticker import MaxNLocator

from livechart.drawing import DrawContext
from livechart.drawing import Resolved
from livechart.quality import drawable
from livechart.sources.frames import empty_frame
from livechart.spec import ChartSpec
from livechart.spec import SeriesSpec
from livechart.themes import THEMES
from livechart.themes import Theme

# x 轴至少显示的时长（天，Matplotlib 日期单位）：刚启动时新点从右侧长出，刻度也不会细到毫秒
MIN_SPAN = 60 / 86400
SECONDS_PER_DAY = 86400.0


BINARY_PREFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def format_value(unit: str, value: float, precise: bool = False) -> str:
    """按单位格式化一个数：百分比、二进制前缀的字节（KiB、MiB……）、或普通数字。"""
    if not np.isfinite(value):
        return ""
    if unit == "percent":
        return f"{value:.1f}%" if precise else f"{value:g}%"
    if unit in ("bytes", "bytes/s"):
        # Matplotlib 只有十进制的 EngFormatter；字节用 1024 进制
        scaled, index = float(value), 0
        while abs(scaled) >= 1024 and index < len(BINARY_PREFIXES) - 1:
            scaled /= 1024
            index += 1
        suffix = "/s" if unit == "bytes/s" else ""
        return f"{scaled:.3g} {BINARY_PREFIXES[index]}B{suffix}"
    return f"{value:.4g}"


class BinaryLocator(Locator):
    """字节轴的刻度：落在 1024 的整数次幂的整倍数上（1 MiB、2 MiB……），而不是 1 000 000 的倍数。"""

    def __init__(self) -> None:
        self.inner = MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10])

    def tick_values(self, vmin: float, vmax: float) -> np.ndarray:
        """刻度位置。"""
        largest = max(abs(vmin), abs(vmax), 1.0)
        scale = 1024.0 ** min(int(np.log(largest) / np.log(1024)), len(BINARY_PREFIXES) - 1)
        return self.inner.tick_values(vmin / scale, vmax / scale) * scale

    def __call__(self) -> np.ndarray:
        return self.tick_values(*self.axis.get_view_interval())


@dataclass
class Drawn:
    """一条序列在图上的图元。"""

    series: SeriesSpec
    axes: Axes
    artist: Artist
    label: Artist | None


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
        self.background_key: tuple[Any, ...] | None = None
        self.round_limits = {
            id(ax): BinaryLocator() if unit in ("bytes", "bytes/s") else MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10])
            for ax, unit in ((self.axes, spec.unit), (self.right, spec.y2unit))
        }

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
            if unit != "plain":
                ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos, unit=unit: format_value(unit, value)))
            if unit in ("bytes", "bytes/s"):
                ax.yaxis.set_major_locator(BinaryLocator())
            if limits is not None:
                ax.set_ylim(*limits)
        if self.right is not None:
            self.right.patch.set_visible(False)
        self.axes.set_title(spec.title, color=theme.text)
        self.axes.grid(True, color=theme.grid, alpha=0.5, linewidth=0.6)
        self.axes.xaxis_date()
        # 滚动窗口从几秒到几天：自动定位 + 简洁格式，避免默认刻度重叠（docs/pitfalls.md 第 17 条）
        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
        self.axes.xaxis.set_major_locator(locator)
        # 偏移文字（如 “2026-Mar”）给出刻度省略掉的年月日
        self.axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))

    def _create(self, series: SeriesSpec, index: int) -> Drawn:
        """按图表类型为一条序列创建（空的）图元。"""
        spec = self.spec
        ax = self.right if series.axis == "right" and self.right is not None else self.axes
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
            label = ax.text(0, 0, "", color=color, fontsize="small", ha="right", va="bottom",
                            clip_on=False, visible=False)  # fmt: skip
        return Drawn(series, ax, artist, label)

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
                base[id(drawn.axes)] = top
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
        """把窗口数据写入已有的图元。"""
        x = mdates.date2num(frame.index.to_numpy()) if len(frame) else np.empty(0)
        stacks = self._stacks(frame)
        width, each = self._bar_geometry(x)
        for index, drawn in enumerate(self.drawn):
            bottom, top = stacks[drawn.series.column]
            artist = drawn.artist
            if self.spec.kind == "area":
                ok = np.isfinite(top)
                polygon = np.concatenate([np.column_stack([x[ok], top[ok]]), np.column_stack([x[ok], bottom[ok]])[::-1]])
                artist.set_verts([polygon] if ok.any() else [])
            elif self.spec.kind == "bar":
                left = x - width / 2 + (0 if self.spec.stacked else index * each)
                ok = np.isfinite(top)
                x0, x1, y0, y1 = left[ok], left[ok] + each, bottom[ok], top[ok]
                corners = ((x0, y0), (x0, y1), (x1, y1), (x1, y0))
                artist.set_verts(np.stack([np.column_stack(corner) for corner in corners], axis=1))
            else:
                artist.set_data(x, top)
            if drawn.label is not None:
                self._label(drawn, x, top)
        self.empty_text.set_visible(len(x) == 0)
        right = x[-1] if len(x) else mdates.date2num(pd.Timestamp.now())
        if self.spec.span is not None:
            left = right - self.spec.span / SECONDS_PER_DAY
        else:
            left = min(x[0], right - MIN_SPAN) if len(x) else right - MIN_SPAN
        if self.spec.kind == "bar":
            left, right = left - width, right + width
        self.axes.set_xlim(left, right)
        if self.spec.ylim is None:
            self.axes.set_ylim(*self._auto_ylim(self.axes, stacks))
        if self.right is not None and self.spec.y2lim is None:
            self.right.set_ylim(*self._auto_ylim(self.right, stacks))

    def _label(self, drawn: Drawn, x: np.ndarray, values: np.ndarray) -> None:
        """最新值标注：放在最后一个有效点上，按该轴的单位格式化。"""
        ok = np.flatnonzero(np.isfinite(values))
        label = drawn.label
        assert label is not None
        label.set_visible(len(ok) > 0)
        if len(ok):
            unit = self.spec.y2unit if drawn.series.axis == "right" and self.right is not None else self.spec.unit
            label.set_position((x[ok[-1]], values[ok[-1]]))
            label.set_text(format_value(unit, values[ok[-1]], precise=True))

    def _auto_ylim(self, ax: Axes, stacks: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
        """自动 y 范围：数据范围留 5 % 余量后向外取整到刻度值，数据小幅变化时范围不变。

        面积图和柱状图从 0 开始（数据全为正时）。超出范围的值在 _stacks 里已换成 NaN，这里只看有限值。
        """
        filled = self.spec.kind in ("area", "bar")
        mine = [stacks[d.series.column] for d in self.drawn if d.axes is ax]
        values = np.concatenate([np.concatenate((b, t)) if filled else t for b, t in mine] or [np.empty(0)])
        values = values[np.isfinite(values)]
        if values.size == 0:
            return (0.0, 1.0)
        low, high = float(values.min()), float(values.max())
        pad = (high - low) * 0.05 or abs(high) * 0.05 or 0.5
        if self.spec.annotate_last:
            high += (high - low) * 0.08  # 给最新值标注留出空间
        lower = 0.0 if filled and low >= 0 else low - pad
        ticks = self.round_limits[id(ax)].tick_values(lower, high + pad)
        return (float(ticks[0]), float(ticks[-1]))

    # ------------------------------------------------------------ draw

    def _draw(self) -> None:
        """恢复（必要时重建）静态背景，再画会变的图元。"""
        key = (self.axes.get_ylim(), self.right.get_ylim() if self.right is not None else None)
        if self.background is None or key != self.background_key:
            # 刻度标签的宽度随 y 范围而变：重建背景时（很少）重新排版，平时不付这个代价
            self.figure.tight_layout(pad=0.6)
            shown = [artist.get_visible() for artist in self.dynamic]
            for artist in self.dynamic:
                artist.set_visible(False)
            self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
            if self.legend is not None:
                box = self.legend.get_window_extent(self.canvas.get_renderer()).padded(2)
                self.legend_pixels = self.canvas.copy_from_bbox(box)
            self.background_key = key
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
        """画 x 轴：与 XAxis.draw 画出同样的像素，但只算一次刻度。

        XAxis.draw 每次要算三遍刻度（定位器 + 格式化器），还要量出所有刻度标签的外框来摆放
        x 轴标题和偏移文字——这些占了 x 轴绘制时间的约三分之一（bench/README.md 的剖析）。
        这里没有 x 轴标题；偏移文字（ConciseDateFormatter 的日期）的位置只取决于标签的高度，
        只在重建背景时量一次。用到的是 Matplotlib 的私有方法（版本固定在 requirements.txt，
        golden 图像测试逐像素检查结果不变）。
        """
        axis = self.axes.xaxis
        ticks = axis._update_ticks()
        if place_offset:
            axis._update_offset_text_position(*axis._get_ticklabel_bboxes(ticks, renderer))
        for tick in ticks:
            tick.draw(renderer)
        axis.offsetText.set_text(axis.major.formatter.get_offset())
        axis.offsetText.draw(renderer)

    def draw(self, frame: pd.DataFrame) -> None:
        """把窗口数据画到画布上（局部重绘），并把 Figure 标记为已画好：绘制器不再整体重画（livechart/renderer.py）。"""
        self._update(frame)
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
