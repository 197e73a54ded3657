"""数据源：每次 fetch() 采一行新数据，返回滚动窗口（带 DatetimeIndex 的 DataFrame）。

本模块是纯数据代码，不导入 Flask。时间戳是本地时间（无时区），与图上显示的时刻一致。
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np
import pandas as pd
import psutil

from livechart.spec import SourceSpec


class Source(Protocol):
    """数据源接口。"""

    def fetch(self) -> pd.DataFrame:
        """采样一次，返回包含最新一行的滚动窗口。"""
        ...


class Window:
    """有界滚动窗口：只保留最近 maxlen 行，内存不随运行时间增长。"""

    def __init__(self, columns: tuple[str, ...], maxlen: int) -> None:
        self.maxlen = maxlen
        self.frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in columns}, index=pd.DatetimeIndex([], name="time"))

    def append(self, rows: pd.DataFrame) -> pd.DataFrame:
        """追加若干行并裁剪到 maxlen，返回当前窗口。"""
        frame = rows if self.frame.empty else pd.concat([self.frame, rows])
        self.frame = frame.iloc[-self.maxlen :]
        return self.frame


SYSTEM_READERS: dict[str, Callable[[], float]] = {
    # interval=None：与上一次调用之间的平均值，不阻塞调度线程
    "cpu": lambda: psutil.cpu_percent(interval=None),
    "memory": lambda: psutil.virtual_memory().percent,
    "swap": lambda: psutil.swap_memory().percent,
}


class SystemSource:
    """本机 CPU、内存、交换分区使用率（百分比），经 psutil 采样。"""

    def __init__(self, metrics: list[str], window: int) -> None:
        self.metrics = list(metrics)
        self.window = Window(tuple(self.metrics), window)
        # 第一次 cpu_percent(None) 总是返回 0.0：先调用一次作为基准
        psutil.cpu_percent(interval=None)

    def fetch(self) -> pd.DataFrame:
        """采样一次。"""
        now = pd.Timestamp.now()
        row = {m: float(SYSTEM_READERS[m]()) for m in self.metrics}
        return self.window.append(pd.DataFrame(row, index=pd.DatetimeIndex([now], name="time")))


class DemoSource:
    """可复现的模拟序列：正弦加噪声（signal）与随机游走（walk）。

    启动时按任务间隔回填整个窗口，页面一打开就有完整曲线。
    """

    def __init__(self, seed: int, period: float, noise: float, window: int, step: float) -> None:
        self.rng = np.random.default_rng(seed)
        self.period = float(period)
        self.noise = float(noise)
        self.walk = 0.0
        self.window = Window(("signal", "walk"), window)
        now = pd.Timestamp.now()
        history = [now - pd.Timedelta(seconds=step * i) for i in range(window - 1, 0, -1)]
        if history:
            self.window.append(self._rows(history))

    def _rows(self, times: list[pd.Timestamp]) -> pd.DataFrame:
        """为给定时刻生成数据行。"""
        phase = np.array([t.timestamp() for t in times]) * (2 * math.pi / self.period)
        signal = np.sin(phase) + self.rng.normal(0.0, self.noise, len(times))
        steps = self.rng.normal(0.0, 0.05, len(times))
        walk = self.walk + np.cumsum(steps)
        self.walk = float(walk[-1])
        return pd.DataFrame({"signal": signal, "walk": walk}, index=pd.DatetimeIndex(times, name="time"))

    def fetch(self) -> pd.DataFrame:
        """生成当前时刻的一行。"""
        return self.window.append(self._rows([pd.Timestamp.now()]))


def make_source(spec: SourceSpec, window: int, step: float) -> Source:
    """按规格创建数据源；step 是任务间隔（秒），用于回填模拟数据。"""
    if spec.type == "system":
        return SystemSource(spec.params["metrics"], window)
    if spec.type == "demo":
        return DemoSource(spec.params["seed"], spec.params["period"], spec.params["noise"], window, step)
    raise ValueError(f"unknown source type {spec.type!r}")


__all__ = ["DemoSource", "Source", "SystemSource", "Window", "make_source"]
