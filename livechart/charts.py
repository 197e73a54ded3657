"""图表绘制：DataFrame 进，PNG 字节出。每个图表复用一个 Figure，只原地更新数据。

不使用 pyplot（全局状态、会泄漏），不导入 Flask，也从不写文件：
Figure 的 Agg 画布 → Pillow → BytesIO → bytes。

为什么不每次都完整重绘（bench/README.md 有测量）：标题、y 轴、网格、背景每次都一样，
却占了绘制时间的大半。这里把这些静态部分画一次、缓存为背景（Agg 的 copy_from_bbox），
每次只恢复背景，再画会变的部分（x 轴、线条、图例、“暂无数据”）。
y 轴范围变化时才重建背景；自动范围取整到刻度，所以很少变化。
"""

from __future__ import annotations

import threading
import warnings
from io import BytesIO

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from livechart import fonts
from livechart.spec import ChartSpec

# x 轴至少显示的时长（天，Matplotlib 日期单位）：刚启动时新点从右侧长出，刻度也不会细到毫秒
MIN_SPAN = 60 / 86400


class ChartRenderer:
    """一个图表的绘制器：持有一个复用的 Figure 及其线条。"""

    # Matplotlib 不是线程安全的：同一进程内所有图表的绘制串行进行（类级锁）
    draw_lock = threading.Lock()

    def __init__(self, spec: ChartSpec, compress_level: int = 1) -> None:
        self.spec = spec
        self.compress_level = compress_level
        self.figure = Figure(figsize=(spec.width / spec.dpi, spec.height / spec.dpi), dpi=spec.dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        ax = self.axes = self.figure.add_subplot()
        ax.xaxis_date()
        # 滚动窗口从几秒到几天：自动定位 + 简洁格式，避免默认刻度重叠（DESIGN.md 陷阱 17）
        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
        self.lines = {column: ax.plot([], [], label=label, linewidth=1.5)[0] for column, label in spec.series.items()}
        ax.set_title(spec.title)
        ax.set_ylabel(spec.ylabel)
        ax.grid(True, alpha=0.3)
        if spec.ylim is not None:
            ax.set_ylim(*spec.ylim)
        legend = ax.legend(loc="upper left", fontsize="small") if len(self.lines) > 1 else None
        self.empty_text = ax.text(0.5, 0.5, "暂无数据", transform=ax.transAxes, ha="center", va="center", visible=False)
        # 固定边距：约束布局每次绘制都要重新计算，代价高
        self.figure.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.1)
        # 每次都要画的图元，按从下到上的顺序（图例盖在线条上面）
        self.dynamic = [ax.xaxis, *self.lines.values(), self.empty_text, *([legend] if legend else [])]
        self.background = None
        self.background_key: tuple[float, float] | None = None
        self.round_limits = MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10])

    def _update(self, frame: pd.DataFrame) -> None:
        """把窗口数据写入已有的线条（不新增任何图元，内存保持平稳）。"""
        x = mdates.date2num(frame.index.to_numpy()) if len(frame) else np.empty(0)
        for column, line in self.lines.items():
            line.set_data(x, frame[column].to_numpy(dtype=float))
        self.empty_text.set_visible(len(x) == 0)
        right = x[-1] if len(x) else mdates.date2num(pd.Timestamp.now())
        left = min(x[0], right - MIN_SPAN) if len(x) else right - MIN_SPAN
        self.axes.set_xlim(left, right)
        if self.spec.ylim is None:
            self.axes.set_ylim(*self._auto_ylim(frame))

    def _auto_ylim(self, frame: pd.DataFrame) -> tuple[float, float]:
        """自动 y 范围：数据范围留 5 % 余量后向外取整到刻度值，数据小幅变化时范围不变。"""
        values = frame[list(self.lines)].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if values.size == 0:
            return (0.0, 1.0)
        low, high = float(values.min()), float(values.max())
        pad = (high - low) * 0.05 or abs(high) * 0.05 or 0.5
        ticks = self.round_limits.tick_values(low - pad, high + pad)
        return (float(ticks[0]), float(ticks[-1]))

    def _draw(self) -> None:
        """恢复（必要时重建）静态背景，再画会变的图元。"""
        key = self.axes.get_ylim()
        if self.background is None or key != self.background_key:
            shown = [artist.get_visible() for artist in self.dynamic]
            for artist in self.dynamic:
                artist.set_visible(False)
            self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
            self.background_key = key
            for artist, visible in zip(self.dynamic, shown, strict=True):
                artist.set_visible(visible)
        else:
            self.canvas.restore_region(self.background)
        for artist in self.dynamic:
            if artist.get_visible():
                self.axes.draw_artist(artist)

    def _encode(self) -> bytes:
        """Agg 缓冲区 → PNG 字节。背景不透明，去掉 alpha 通道：编码更快、文件更小。"""
        width, height = self.canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
        buffer = BytesIO()
        image.save(buffer, format="png", compress_level=self.compress_level)
        return buffer.getvalue()

    def render(self, frame: pd.DataFrame) -> bytes:
        """绘制窗口数据，返回 PNG 字节。"""
        with self.draw_lock:
            self._update(frame)
            with warnings.catch_warnings():
                if not fonts.cjk_available():
                    # 已在启动时警告过一次；不要每次绘制都为缺字形刷屏
                    warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
                self._draw()
            return self._encode()
