"""渲染进程池（LIVECHART_RENDER_PROCESSES=N）：在 N 个工作进程里绘制，各自保留复用的 Figure。

为什么（docs/pitfalls.md 第 9、15 条，bench/README.md 有测量）：Matplotlib 在一个进程内只能串行绘制，
而提供图片的线程持有 GIL 时，同一进程里的绘制会慢好几倍，新图来得比间隔晚。放到别的进程里，
服务线程抢不到绘制的 GIL，几个图表也能在几个核上并行绘制。调度器线程只取数据、存字节。

每个图表固定分给一个工作进程（按配置顺序轮流分配），所以每个图表只有一个 Figure，
背景缓存照样有效。工作进程从 forkserver 启动（fork 一个有线程的进程不安全，forkserver 没有线程）：
forkserver 预先导入 livechart.pool（Matplotlib、pandas……，导入 livechart 时选择 Agg），每个工作进程
从它 fork 出来，不用像 spawn 那样各自再导入一遍（bench/README.md 的启动时间）；没有 forkserver 的平台用 spawn。
绘图函数（draw）在工作进程里按路径导入。
工作进程死掉（被杀、崩溃）时这一次重绘记为失败，换一个新进程，下一次照常。

每个进程同一时刻只交给它一次绘制（每个进程一把锁，docs/pitfalls.md 第 34 条）：期限从绘制真正开始时算，
排队的绘制不会因为前面那次卡住而一起超时。一次绘制超过 LIVECHART_RENDER_TIMEOUT（卡住的绘图函数）时放弃它：
杀掉这个进程，换一个新的并等它启动好，再让出这个进程。超时的图表之后一段时间不再送去画（HOLD_BACK，
连续超时时加倍），分到同一个进程的别的图表照常画，只在那一次期限加上新进程启动的时间里要等（docs/drawing.md）。
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

import pandas as pd

from livechart import drawing
from livechart.durations import duration_text
from livechart.fonts import configure_fonts
from livechart.renderer import Renderer
from livechart.spec import ChartSpec

log = logging.getLogger("livechart")


class RenderProcessDied(RuntimeError):
    """绘制进程在绘制中途退出。"""


class RenderTimedOut(RuntimeError):
    """一次绘制超过了期限：放弃它，换了一个新的绘制进程（或者图表刚超时过，还在暂停送画的时间里）。"""


# 超时的图表暂停送画的时间（秒）：至少这么久、至少一个期限，连续超时时加倍，最多 MAX_HOLD_BACK
HOLD_BACK = 10.0
MAX_HOLD_BACK = 300.0
# 换上的新进程最多等多久启动好（秒）
START_SECONDS = 60.0
# forkserver 启动时预先导入的模块：绘制进程从它 fork 出来，已经导入了 Matplotlib、pandas 与 livechart 的绘制代码
PRELOAD = ["livechart.pool"]


def start_context() -> multiprocessing.context.BaseContext:
    """启动绘制进程用的 multiprocessing 上下文：有 forkserver 时用它（并设置预先导入），否则 spawn。
    预先导入的设置只在本进程的 forkserver 启动之前有效；它启动一次，之后的进程池（与换上的进程）都从它 fork。"""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_forkserver() -> None:
    """现在就启动本进程的 forkserver（不等它导入完）：之后第一个进程池的进程从它 fork，不必等它从头启动。"""
    if "forkserver" in multiprocessing.get_all_start_methods():
        start_context()
        from multiprocessing import forkserver

        forkserver.ensure_running()


# --- 工作进程里的状态 ---
_specs: dict[str, ChartSpec] = {}
_renderers: dict[str, Renderer] = {}
_level = 1


def _start(specs: dict[str, ChartSpec], level: int, cjk_fonts: list[str]) -> None:
    """工作进程的初始化：字体与规格（rcParams 每个进程设置一次）。"""
    global _level
    configure_fonts(cjk_fonts)
    drawing.report_pyplot = False  # pyplot 由服务进程按绘制的结果报告
    _specs.update(specs)
    _level = level
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), name="livechart-parent", daemon=True).start()


def _exit_with(sentinel: int) -> None:
    """等服务进程（父进程）退出后立即结束本进程。服务进程被 kill -9（或启动途中被 gunicorn 杀掉）时不会关闭进程池，
    工作进程会一直等下一次绘制、成为孤儿；forkserver 的子进程也不会跟着 forkserver 退出。"""
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def _ready() -> bool:
    """预热：让进程启动并完成初始化。"""
    return True


def _render(
    name: str,
    frame: pd.DataFrame | None,
    spec: ChartSpec | None = None,
    theme: str | None = None,
    scale: float = 1.0,
    narrow: bool = False,
) -> tuple[bytes, bool]:
    """在工作进程里绘制；每个图表的绘制器在第一次绘制时创建，之后复用。返回 (PNG, pyplot 是否已被导入)。
    spec：图表现在的规格（重新载入配置之后可能变了、或是新图表）；与这个进程记下的不同时换新的绘制器。"""
    if spec is not None and _specs.get(name) != spec:
        _specs[name] = spec
        _renderers.pop(name, None)
    renderer = _renderers.get(name)
    if renderer is None:
        # 进程里一次只画一个图表，不会等绘制锁
        renderer = _renderers[name] = Renderer(_specs[name], _level)
    return renderer.render(frame, theme, scale, narrow=narrow), drawing.pyplot_loaded()


class RenderPool:
    """N 个单进程执行器；图表固定分配给其中一个，每个进程同一时刻只画一个图表。"""

    def __init__(self, specs: dict[str, ChartSpec], processes: int, level: int, cjk_fonts: list[str]) -> None:
        self.specs = specs
        self.level = level
        self.cjk_fonts = list(cjk_fonts)
        self.context = start_context()
        self.lock = threading.Lock()
        self.executors = [self._executor() for _ in range(processes)]
        # 每个进程一把锁：拿着它提交、等结果、超时时换进程
        self.slots = [threading.Lock() for _ in range(processes)]
        self.assignment = {name: index % processes for index, name in enumerate(specs)}
        # 图表 → (暂停送画到何时, 这次暂停的秒数)
        self.held: dict[str, tuple[float, float]] = {}
        # 全部工作进程都启动好了：在那之前调用方在自己的进程里画（start_in_background）
        self.ready = threading.Event()

    def _executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=self.context, initializer=_start,
                                   initargs=(self.specs, self.level, self.cjk_fonts))  # fmt: skip

    def start(self, timeout: float) -> None:
        """启动全部工作进程（并行），最多等 timeout 秒。启动途中死掉的进程换一个新的。"""
        futures = [executor.submit(_ready) for executor in self.executors]
        for index, future in enumerate(futures):
            try:
                future.result(timeout)
            except BrokenProcessPool:
                with self.slots[index]:
                    self._replace(index, "绘制进程 %d 在启动途中退出了，换一个新进程")
        self.ready.set()
        log.info("%d 个绘制进程已启动，之后在它们里面绘制", len(self.executors))

    def start_in_background(self, timeout: float) -> threading.Thread:
        """在后台线程里启动工作进程，不等它们：启动要导入 Matplotlib 与 pandas，在忙的机器上要好几秒，
        第一张图不等它（ready 设置之前调用方在自己的进程里画，bench/README.md 有测量）。"""

        def run() -> None:
            try:
                self.start(timeout)
            except Exception:
                log.exception("绘制进程没能在 %s内启动：继续在服务进程里绘制", duration_text(timeout))

        thread = threading.Thread(target=run, name="livechart-pool-start", daemon=True)
        thread.start()
        return thread

    def render(
        self,
        name: str,
        frame: pd.DataFrame | None,
        timeout: float,
        spec: ChartSpec | None = None,
        variant: tuple[str | None, float, bool] = (None, 1.0, False),
    ) -> bytes:
        """在分给这个图表的进程里绘制，返回 PNG 字节。spec：图表现在的规格（随每次绘制发过去，
        重新载入配置后新增或改了的图表不用等工作进程更新）；新图表按顺序轮流分配给工作进程。
        variant：(主题, 倍率, 窄版式)，默认是图表自己的主题、1 倍、宽版式（livechart/variants.py）。

        等进程空出来最多等一个期限加上换进程的时间；绘制本身超过 timeout 秒就放弃、换掉这个进程，抛 RenderTimedOut。"""
        with self.lock:
            index = self.assignment.setdefault(name, len(self.assignment) % len(self.executors))
            until, _ = self.held.get(name, (0.0, 0.0))
        if time.monotonic() < until:
            raise RenderTimedOut(
                f"上一次绘制超过了 LIVECHART_RENDER_TIMEOUT（{timeout:g} 秒）：接下来 {duration_text(round(until - time.monotonic()))}"
                "内不再画这个图表，免得同一个绘制进程里的其他图表跟着等"
            )
        if not self.slots[index].acquire(timeout=timeout + START_SECONDS):
            raise RenderTimedOut(f"绘制进程 {index} 一直在忙，等了超过 {duration_text(timeout + START_SECONDS)}还没空出来")
        try:
            with self.lock:
                executor = self.executors[index]
            try:
                png, pyplot = executor.submit(_render, name, frame, spec, *variant).result(timeout)
            except FutureTimeout:
                self._hold_back(name, timeout)
                self._replace(index, f"绘制进程 %d 画图表 {name} 超过 {timeout:g} 秒，放弃这次绘制，换一个新进程")
                raise RenderTimedOut(
                    f"绘制超过了 LIVECHART_RENDER_TIMEOUT（{timeout:g} 秒）：已放弃这次绘制，并换掉了它的绘制进程"
                ) from None
            except BrokenProcessPool:
                self._replace(index, f"绘制进程 %d 在画图表 {name} 时意外退出，换一个新进程")
                raise RenderProcessDied(f"绘制进程 {index} 在画图表 {name!r} 时意外退出了") from None
        finally:
            self.slots[index].release()
        with self.lock:
            self.held.pop(name, None)
        drawing.warn_if_pyplot(pyplot)
        return png

    def _hold_back(self, name: str, timeout: float) -> None:
        """超时的图表暂停送画一段时间（连续超时时加倍）。"""
        with self.lock:
            _, last = self.held.get(name, (0.0, 0.0))
            seconds = min(MAX_HOLD_BACK, max(HOLD_BACK, timeout, 2 * last))
            self.held[name] = (time.monotonic() + seconds, seconds)

    def _replace(self, index: int, message: str) -> None:
        """换掉第 index 个进程（调用方拿着它的锁）：杀掉旧进程，启动新进程并等它好（最多 START_SECONDS 秒）。"""
        log.error(message, index)
        with self.lock:
            executor = self.executors[index]
            processes = list((executor._processes or {}).values())
            self.executors[index] = replacement = self._executor()
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.kill()
        try:
            replacement.submit(_ready).result(START_SECONDS)
        except Exception:
            log.exception("新的绘制进程 %d 没能启动", index)

    def pids(self) -> list[int]:
        """工作进程的 pid（测试与基准用）。"""
        with self.lock:
            return [pid for executor in self.executors for pid in (executor._processes or {})]

    def shutdown(self) -> None:
        """不等正在进行的绘制，结束全部工作进程；再等各执行器的管理线程退出（合计最多 2 秒）。不等的话，进程紧接着退出时
        concurrent.futures 会去叫醒一个正在关闭自己管道的管理线程，打印 OSError: Bad file descriptor 的堆栈（CPython 3.11 的竞争）。"""
        managers = []
        with self.lock:
            for executor in self.executors:
                processes = list((executor._processes or {}).values())
                managers.append(executor._executor_manager_thread)
                executor.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    process.terminate()
        until = time.monotonic() + 2.0
        for manager in managers:
            if manager is not None:
                # typeshed 把 _executor_manager_thread 标成了别的类型；它是 threading.Thread
                manager.join(max(0.0, until - time.monotonic()))  # type: ignore[attr-defined]
