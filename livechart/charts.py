"""图表绘制：DataFrame 进，PNG 字节出。每个图表复用一个 Figure，只原地更新数据。

不使用 pyplot（全局状态、会泄漏），不导入 Flask，也从不写文件：
Figure → BytesIO → bytes。
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
        FigureCanvasAgg(self.figure)
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
        if len(self.lines) > 1:
            ax.legend(loc="upper left", fontsize="small")
        self.empty_text = ax.text(0.5, 0.5, "暂无数据", transform=ax.transAxes, ha="center", va="center", visible=False)
        # 固定边距：约束布局每次绘制都要重新计算，代价高
        self.figure.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.1)

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
            self.axes.relim()
            self.axes.autoscale_view(scalex=False)

    def render(self, frame: pd.DataFrame) -> bytes:
        """绘制窗口数据，返回 PNG 字节。"""
        with self.draw_lock:
            self._update(frame)
            buffer = BytesIO()
            with warnings.catch_warnings():
                if not fonts.cjk_available():
                    # 已在启动时警告过一次；不要每次绘制都为缺字形刷屏
                    warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
                self.figure.savefig(buffer, format="png", pil_kwargs={"compress_level": self.compress_level})
            return buffer.getvalue()
