"""给可能卡住的调用（数据源的 fetch）一个总的期限。

Python 没法从外面停掉一个线程。所以调用在一个守护线程里进行，调用方（调度器的任务线程、/run 的请求线程）
最多等到期限，然后报告“超过 N 秒仍未返回”并返回：任务线程不会被卡住，下一个节拍照常进行，
进程退出时守护线程也不会拖住它（docs/pitfalls.md 第 26 条）。
卡住的调用还没返回时，同一个图表不再开始新的调用（否则每个节拍都多一个卡住的线程），而是立即报告它已经卡了多久；
它终于返回时，结果留给下一次调用取走（CSV 这类只返回新增行的数据源不丢数据）。
进程要停止时（stop 置位），等待立即结束。本模块不导入 Flask。
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic
from typing import TypeVar

from livechart.durations import spoken

T = TypeVar("T")

# 整个进程要停止时置位：所有等待立即结束（SIGTERM，见 __main__.py 与 gunicorn_config.py）
STOPPING = threading.Event()
_waiting: set[threading.Event] = set()
_waiting_lock = threading.Lock()


def stop_waiting() -> None:
    """进程要停止：叫醒所有正在等待取数结果的线程，之后的等待立即结束。"""
    STOPPING.set()
    with _waiting_lock:
        for event in _waiting:
            event.set()


def exit_within(seconds: float) -> None:
    """进程正在停止：若 seconds 秒后还没退出（某个非守护线程卡在数据源或锁里），直接结束进程（状态 0）。

    解释器退出时会等所有非守护线程（APScheduler 线程池的线程也是），一个卡住的调用就能让进程永远不退出。
    唯一的例外是一直不释放 GIL 的本地代码：那时连这个线程也运行不了（README 的“停止”一节写明了）。
    """

    def watchdog() -> None:
        time.sleep(seconds)
        logging.getLogger("livechart").warning("%s 秒后仍有线程未结束（卡住的数据源或绘图函数）：直接退出", seconds)
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)

    stop_waiting()
    threading.Thread(target=watchdog, name="livechart-exit", daemon=True).start()


class FetchTimeout(TimeoutError):
    """调用超过了期限（或上一次调用仍未返回）。"""


class Stopping(RuntimeError):
    """进程正在停止，不再等待。"""


class StillRunning(RuntimeError):
    """这次只等了 patience 秒，调用还在进行、也还没到期限：下一次再来取结果。"""


class Deadline(Generic[T]):
    """一个图表的取数调用：同一时刻最多一个在进行。"""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pending: Future[T] | None = None
        self.started = 0.0
        # 已经按超时报告过的调用：它后来的异常不再报告（否则状态与日志在“超时”和它的异常之间来回跳）
        self.abandoned = False
        self.lock = threading.Lock()

    def running_for(self) -> float | None:
        """在进行中的调用已经进行了多久（秒）；没有时为 None。"""
        with self.lock:
            if self.pending is None or self.pending.done():
                return None
            return time.monotonic() - self.started

    def _start(self, call: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=run, name=f"livechart-fetch-{self.name}", daemon=True).start()
        return future

    def call(self, call: Callable[[], T], seconds: float, patience: float | None = None) -> T:
        """在期限内得到 call() 的结果；超时抛 FetchTimeout，进程停止时抛 Stopping。

        patience：这一次最多等多久（调度的任务传入小于间隔的值，任务线程不会跨过下一个节拍，
        APScheduler 也就不会每个节拍警告 "maximum number of running instances"）；等完仍未到期限时抛 StillRunning。
        """
        with self.lock:
            if self.pending is not None and self.abandoned and self.pending.done() and self.pending.exception() is not None:
                self.pending = None  # 迟到的只有异常：丢掉，重新取
            if self.pending is None:
                self.pending, self.started, self.abandoned = self._start(call), time.monotonic(), False
            future, started = self.pending, self.started
        if not future.done() and time.monotonic() - started > seconds:
            # 上一次调用还卡着：不再开始新的，直接报告
            self.abandoned = True
            raise FetchTimeout(
                f"超过 {seconds:g} 秒仍未返回（上一次调用已卡住 {spoken(time.monotonic() - started)}，不再开始新的调用）"
            )
        woken = threading.Event()
        future.add_done_callback(lambda _: woken.set())
        with _waiting_lock:
            _waiting.add(woken)
        try:
            if STOPPING.is_set():
                woken.set()
            remaining = max(0.0, started + seconds - time.monotonic())
            woken.wait(remaining if patience is None else min(remaining, patience))
        finally:
            with _waiting_lock:
                _waiting.discard(woken)
        if not future.done():
            if STOPPING.is_set():
                raise Stopping("进程正在停止")
            if time.monotonic() - started < seconds:
                raise StillRunning(f"已经进行了 {spoken(time.monotonic() - started)}，还在进行")
            self.abandoned = True
            raise FetchTimeout(f"超过 {seconds:g} 秒仍未返回")
        with self.lock:
            if self.pending is future:
                self.pending = None
        return future.result()
