"""渲染进程池（LIVECHART_RENDER_PROCESSES=N）：在 N 个工作进程里绘制，各自保留复用的 Figure。

为什么（docs/pitfalls.md 第 9、15 条，bench/README.md 有测量）：Matplotlib 在一个进程内只能串行绘制，
而提供图片的线程持有 GIL 时，同一进程里的绘制会慢好几倍，新图来得比间隔晚。放到别的进程里，
服务线程抢不到绘制的 GIL，几个图表也能在几个核上并行绘制。调度器线程只取数据、存字节。

每个图表固定分给一个工作进程（按配置顺序轮流分配），所以每个图表只有一个 Figure，
背景缓存照样有效。工作进程用 spawn 启动（fork 一个有线程的进程不安全），导入 livechart 时选择 Agg。
工作进程死掉（被杀、崩溃）时这一次重绘记为失败，换一个新进程，下一次照常。
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pandas as pd

from livechart.charts import ChartRenderer
from livechart.fonts import configure_fonts
from livechart.spec import ChartSpec

log = logging.getLogger("livechart")


class RenderProcessDied(RuntimeError):
    """绘制进程在绘制中途退出。"""


# --- 工作进程里的状态 ---
_specs: dict[str, ChartSpec] = {}
_renderers: dict[str, ChartRenderer] = {}
_level = 1


def _start(specs: dict[str, ChartSpec], level: int, cjk_fonts: list[str]) -> None:
    """工作进程的初始化：字体与规格（rcParams 每个进程设置一次）。"""
    global _level
    configure_fonts(cjk_fonts)
    _specs.update(specs)
    _level = level


def _ready() -> bool:
    """预热：让进程启动并完成初始化。"""
    return True


def _render(name: str, frame: pd.DataFrame, spec: ChartSpec | None = None) -> bytes:
    """在工作进程里绘制；每个图表的 ChartRenderer 在第一次绘制时创建，之后复用。
    spec：图表现在的规格（重新载入配置之后可能变了、或是新图表）；与这个进程记下的不同时换新的绘制器。"""
    if spec is not None and _specs.get(name) != spec:
        _specs[name] = spec
        _renderers.pop(name, None)
    renderer = _renderers.get(name)
    if renderer is None:
        renderer = _renderers[name] = ChartRenderer(_specs[name], _level)
    return renderer.render(frame)


class RenderPool:
    """N 个单进程执行器；图表固定分配给其中一个。"""

    def __init__(self, specs: dict[str, ChartSpec], processes: int, level: int, cjk_fonts: list[str]) -> None:
        self.specs = specs
        self.level = level
        self.cjk_fonts = list(cjk_fonts)
        self.context = multiprocessing.get_context("spawn")
        self.lock = threading.Lock()
        self.executors = [self._executor() for _ in range(processes)]
        self.assignment = {name: index % processes for index, name in enumerate(specs)}

    def _executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=self.context, initializer=_start,
                                   initargs=(self.specs, self.level, self.cjk_fonts))  # fmt: skip

    def start(self, timeout: float) -> None:
        """启动全部工作进程（并行），最多等 timeout 秒。"""
        futures = [executor.submit(_ready) for executor in self.executors]
        for future in futures:
            future.result(timeout)

    def render(self, name: str, frame: pd.DataFrame, timeout: float, spec: ChartSpec | None = None) -> bytes:
        """在分给这个图表的进程里绘制，返回 PNG 字节。spec：图表现在的规格（随每次绘制发过去，
        重新载入配置后新增或改了的图表不用等工作进程更新）；新图表按顺序轮流分配给工作进程。"""
        with self.lock:
            index = self.assignment.setdefault(name, len(self.assignment) % len(self.executors))
            executor = self.executors[index]
        try:
            return executor.submit(_render, name, frame, spec).result(timeout)
        except BrokenProcessPool:
            with self.lock:
                if self.executors[index] is executor:
                    log.error("绘制进程 %d 意外退出，换一个新进程", index)
                    executor.shutdown(wait=False, cancel_futures=True)
                    self.executors[index] = self._executor()
            raise RenderProcessDied(f"render process {index} died while drawing {name!r}") from None

    def pids(self) -> list[int]:
        """工作进程的 pid（测试与基准用）。"""
        with self.lock:
            return [pid for executor in self.executors for pid in (executor._processes or {})]

    def shutdown(self) -> None:
        """不等正在进行的绘制，结束全部工作进程。"""
        with self.lock:
            for executor in self.executors:
                processes = list((executor._processes or {}).values())
                executor.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    process.terminate()
