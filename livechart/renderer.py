"""绘制器：一个图表的 Figure（每个变体一个，复用）→ 调用绘图函数 → Agg 画布 → PNG 字节。

图表怎么画由它的绘图函数决定（livechart/drawing.py）：内置类型是 livechart/charts.py 的 timeseries，
自定义的是图表规格里 draw 指定的函数。两者走同一条路：
1. 取这个变体（主题 × 倍率）的 Figure：尺寸为图表的英寸大小，dpi 为图表的 dpi × 倍率；
2. 默认先清空 Figure（keep=True 时保留图元）；
3. 在主题的样式上下文里调用函数（livechart/themes.py；内置类型自己按主题设置每种颜色，不进入样式上下文）；
4. Figure 仍是 stale（Matplotlib 自己的“需要重画”标记）时整体画一遍；自己画好画布的函数（内置类型的局部重绘）
   把它标记为不 stale，这里不再重画；
5. Agg 缓冲区 → Pillow → BytesIO → bytes。从不写文件，也不用 pyplot。

Matplotlib 在一个进程里一次只能画一个 Figure：所有图表的第 2–4 步由一把进程级的锁串行（DRAWING），
编码在锁外进行（Pillow 压缩时释放 GIL，下一个图表可以同时绘制）。锁记下正在画的图表与开始时间：
一个卡住的绘图函数让本进程所有的绘制停下，等锁超过 LIVECHART_RENDER_TIMEOUT 的图表报告是谁卡住了
（docs/drawing.md；慢的或不可信的代码请用 LIVECHART_RENDER_PROCESSES）。本模块不导入 Flask。
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from dataclasses import dataclass
from dataclasses import field
from io import BytesIO
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from PIL import Image

from livechart import drawing
from livechart import fonts
from livechart import variants
from livechart.charts import builtin
from livechart.durations import duration_text
from livechart.spec import ChartSpec
from livechart.themes import style

# 等进程级绘制锁的默认期限（秒）；服务里用 LIVECHART_RENDER_TIMEOUT
DEFAULT_TIMEOUT = 30.0
# Figure 的边距参数（subplots_adjust）
SUBPLOT_KEYS = ("left", "right", "bottom", "top", "wspace", "hspace")


class DrawingBlocked(RuntimeError):
    """等绘制锁超过了期限，而持有它的图表画了超过 LIVECHART_RENDER_TIMEOUT：它的绘图函数卡住了。"""


class DrawingBusy(RuntimeError):
    """在给定的时间里没等到绘制锁，但持有它的图表还没画超过期限：只是忙（这个节拍让出，不算失败）。"""


class DrawFunctionExited(RuntimeError):
    """绘图函数抛出了 SystemExit / KeyboardInterrupt 之类不是 Exception 的异常：当作一次普通的失败。"""


class DrawLock:
    """进程级的绘制锁，记下持有它的图表与开始时间（报告卡住的绘图函数用）。"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.holder: str | None = None
        self.since = 0.0

    def acquire(self, chart: str, wait: float, stuck_after: float) -> None:
        """拿到锁。wait 秒内拿不到时：持有者已经画了超过 stuck_after 秒就抛 DrawingBlocked（指明卡住的图表），否则抛 DrawingBusy。"""
        if not self._lock.acquire(timeout=wait):
            holder, since = self.holder, self.since
            held = time.monotonic() - since if since else 0.0
            if held <= stuck_after:
                raise DrawingBusy(f"图表 {holder!r} 正在绘制")
            raise DrawingBlocked(
                f"在等图表 {holder!r}，它已经画了 {duration_text(round(held))}；一个卡住的绘图函数会让它所在进程的绘制全部停下"
                "（慢的或不可信的绘图函数请用 LIVECHART_RENDER_PROCESSES 放进绘制进程里运行）"
            )
        self.holder, self.since = chart, time.monotonic()

    def release(self) -> None:
        self.holder, self.since = None, 0.0
        self._lock.release()

    def busy_for(self, chart: str) -> float | None:
        """chart 正持有锁时，已经画了多少秒；否则为 None。"""
        holder, since = self.holder, self.since
        return time.monotonic() - since if holder == chart and since else None


DRAWING = DrawLock()


@dataclass
class Page:
    """一个变体（主题 × 倍率）的 Figure、画布与它的图元字典。"""

    figure: Figure
    canvas: FigureCanvasAgg
    artists: dict[str, Any] = field(default_factory=dict)
    # 窄版式（手机）的 Figure
    narrow: bool = False


class Renderer:
    """一个图表的绘制器。compress_level：PNG 的 zlib 压缩级别；timeout：等绘制锁的期限（秒）。"""

    def __init__(self, spec: ChartSpec, compress_level: int = 1, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.spec = spec
        self.compress_level = compress_level
        self.timeout = timeout
        # 内置类型或 draw 指定的函数（导入并检查签名；启动时已检查过一次）
        self.draw = builtin(spec) if spec.draw is None else drawing.resolve(spec.draw)
        # 这个图表的状态字典：各个变体共用，本进程里一直保留
        self.state: dict[str, Any] = {}
        self.pages: dict[tuple[str, float, bool], Page] = {}
        # 同一个图表的各次绘制与编码串行（编码读的是这个 Figure 的缓冲区）
        self.lock = threading.Lock()

    def _size(self, narrow: bool) -> tuple[float, float]:
        """变体的 Figure 尺寸（英寸）：宽版式是图表的 size，窄版式见 livechart/variants.py。"""
        width, height = variants.size(self.spec, variants.Variant(narrow=narrow))
        return width / self.spec.dpi, height / self.spec.dpi

    def page(self, theme: str | None = None, scale: float = 1.0, narrow: bool = False) -> Page:
        """变体的 Figure（第一次用时在主题的样式里创建）。"""
        theme = theme or self.spec.theme
        page = self.pages.get((theme, scale, narrow))
        if page is None:
            with matplotlib.rc_context(style(theme)):
                figure = Figure(figsize=self._size(narrow), dpi=self.spec.dpi * scale)
            page = self.pages[(theme, scale, narrow)] = Page(figure, FigureCanvasAgg(figure), narrow=narrow)
        return page

    def render(
        self,
        data: pd.DataFrame | None,
        theme: str | None = None,
        scale: float = 1.0,
        wait: float | None = None,
        narrow: bool = False,
    ) -> bytes:
        """画一个变体（默认：图表自己的主题、宽版式、1 倍），返回 PNG 字节。函数出错时抛出它的异常（上一张好图由调用方保留）。

        wait：最多等进程级的绘制锁多久（默认 timeout）；等不到时抛 DrawingBusy，持有者卡住超过 timeout 时抛 DrawingBlocked。"""
        theme = theme or self.spec.theme
        with self.lock:
            if data is not None and not self.draw.builtin:
                data = data.copy()  # 函数改动它也不影响窗口
            DRAWING.acquire(self.spec.name, self.timeout if wait is None else wait, self.timeout)
            try:
                # Figure 在样式上下文里新建，而 rcParams 是全局的：也要在绘制锁里（docs/pitfalls.md 第 33 条）
                page = self.page(theme, scale, narrow)
                primary = theme == self.spec.theme and scale == 1.0 and not narrow
                context = drawing.DrawContext(self.spec.name, theme, scale, self.state, page.artists, narrow, primary)
                self._draw(page, data, context)
            finally:
                DRAWING.release()
            if not self.draw.builtin and drawing.report_pyplot:
                drawing.warn_if_pyplot()
            return self._encode(page)

    def _draw(self, page: Page, data: pd.DataFrame | None, context: drawing.DrawContext) -> None:
        """在主题的样式里调用绘图函数，需要时把 Figure 画到画布上（已持有绘制锁）。"""
        figure, draw = page.figure, self.draw
        themed = contextlib.nullcontext() if draw.builtin else matplotlib.rc_context(style(context.theme))
        with warnings.catch_warnings(), themed:
            if not fonts.cjk_available():
                # 已在启动时警告过一次；不要每次绘制都为缺字形刷屏
                warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
            if not draw.keep:
                self._fresh(page, context.scale)
            try:
                arguments = (figure, data, context) if draw.takes_context else (figure, data)
                draw.function(*arguments, **draw.kwargs)
                self._check_size(page, context.scale)
                if figure.stale:
                    page.canvas.draw()
            except Exception:
                # 画到一半的 Figure 不再用：下一次从空的 Figure 开始（keep=True 的函数重新建图元）
                self._fresh(page, context.scale)
                raise
            except BaseException as exc:
                # sys.exit() 之类：不能让它结束调度器线程或请求，当作一次失败
                self._fresh(page, context.scale)
                raise DrawFunctionExited(f"绘图函数抛出了 {type(exc).__name__}" + (f": {exc}" if str(exc) else "")) from None

    def _fresh(self, page: Page, scale: float) -> None:
        """把复用的 Figure 变回新建时的样子：clear() 不会重置的布局引擎、subplots_adjust 的边距、尺寸、dpi、底色与边框
        也复原，函数每次拿到的都等于一个新的 Figure（docs/pitfalls.md 第 35 条）。在主题的样式上下文里调用。"""
        figure, spec = page.figure, self.spec
        figure.clear()
        page.artists.clear()
        figure.set_layout_engine(None)
        params: Any = matplotlib.rcParams  # 它的类型只接受字面的键；这里的键是拼出来的
        figure.subplotpars.update(**{key: params[f"figure.subplot.{key}"] for key in SUBPLOT_KEYS})
        figure.set_facecolor(matplotlib.rcParams["figure.facecolor"])
        figure.set_edgecolor(matplotlib.rcParams["figure.edgecolor"])
        figure.set_frameon(matplotlib.rcParams["figure.frameon"])
        figure.patch.set_alpha(None)
        figure.patch.set_linewidth(0.0)
        size, dpi = self._size(page.narrow), spec.dpi * scale
        if figure.dpi != dpi:
            figure.set_dpi(dpi)
        if tuple(figure.get_size_inches()) != size:
            figure.set_size_inches(size, forward=False)

    def _check_size(self, page: Page, scale: float) -> None:
        """函数改了 Figure 的大小或 dpi 时报错：图片的大小由规格的 size 与 dpi 决定（状态与页面按它排版）。"""
        spec = self.spec
        width, height = page.figure.get_size_inches() * page.figure.dpi
        expected = [inches * spec.dpi * scale for inches in self._size(page.narrow)]
        if abs(width - expected[0]) > 0.5 or abs(height - expected[1]) > 0.5:
            raise ValueError(
                f"绘图函数把 Figure 改成了 {width:.0f}x{height:.0f} 像素；图片的大小请用图表的 'size'（{spec.width}x{spec.height}）"
                "与 'dpi' 选项设置"
            )

    def _encode(self, page: Page) -> bytes:
        """Agg 缓冲区 → PNG 字节。背景不透明时去掉 alpha 通道：编码更快、文件更小。"""
        canvas = page.canvas
        width, height = canvas.get_width_height(physical=True)
        image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        if to_rgba(page.figure.get_facecolor())[3] == 1.0 and page.figure.patch.get_visible():
            image = image.convert("RGB")
        buffer = BytesIO()
        image.save(buffer, format="png", compress_level=self.compress_level)
        return buffer.getvalue()
