"""本机指标数据源（psutil）。"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import ClassVar

import pandas as pd
import psutil

from livechart.sources.base import Source
from livechart.sources.base import SourceError
from livechart.sources.base import require
from livechart.sources.frames import one_row


class SystemSource(Source):
    """本机指标（psutil）：CPU（总计与每核）、内存、交换分区、负载、网络与磁盘吞吐。

    吞吐量由相邻两次采样的计数差除以时间差得到；计数器回绕或被重置（差值为负）时，
    这一次不输出速率而是重新建立基准，不会出现负的或巨大的假速率。
    """

    METRICS: ClassVar[dict[str, tuple[str, ...]]] = {
        "cpu": ("cpu",),
        "cpu_cores": tuple(f"cpu{i}" for i in range(psutil.cpu_count() or 1)),
        "memory": ("memory",),
        "swap": ("swap",),
        "load": ("load1", "load5", "load15"),
        "net": ("net_sent", "net_recv"),
        "disk": ("disk_read", "disk_write"),
    }
    LABELS: ClassVar[dict[str, str]] = {
        "cpu": "CPU",
        "memory": "内存",
        "swap": "交换分区",
        "load1": "1 分钟负载",
        "load5": "5 分钟负载",
        "load15": "15 分钟负载",
        "net_sent": "发送",
        "net_recv": "接收",
        "disk_read": "磁盘读",
        "disk_write": "磁盘写",
        **{f"cpu{i}": f"CPU {i}" for i in range(psutil.cpu_count() or 1)},
    }

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        require(params, {"metrics"})
        metrics = params.get("metrics", ["cpu", "memory"])
        if not isinstance(metrics, list | tuple) or not metrics:
            raise SourceError("source option 'metrics' must be a non-empty list")
        bad = [m for m in metrics if m not in cls.METRICS]
        if bad:
            raise SourceError(f"unknown system metric {bad[0]!r} (known: {', '.join(cls.METRICS)})")
        return {"metrics": list(metrics)}

    @classmethod
    def columns(cls, params: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(c for m in params["metrics"] for c in cls.METRICS[m])

    def __init__(self, metrics: list[str], counters: Callable[[], dict[str, float]] | None = None) -> None:
        self.metrics = metrics
        # 计数器读取函数可注入（测试计数器重置时用；真实内核计数器无法重置）
        self.counters = counters or self._read_counters
        self.previous: tuple[float, dict[str, float]] | None = None
        # 第一次 cpu_percent(None) 总是 0.0：先调用一次作为基准
        psutil.cpu_percent(interval=None)
        psutil.cpu_percent(interval=None, percpu=True)
        if self._needs_counters:
            self.previous = (time.monotonic(), self.counters())

    @property
    def _needs_counters(self) -> bool:
        return "net" in self.metrics or "disk" in self.metrics

    def _read_counters(self) -> dict[str, float]:
        """网络与磁盘的累计字节数。"""
        values: dict[str, float] = {}
        if "net" in self.metrics:
            net = psutil.net_io_counters()
            values.update(net_sent=net.bytes_sent, net_recv=net.bytes_recv)
        if "disk" in self.metrics:
            disk = psutil.disk_io_counters()
            values.update(disk_read=disk.read_bytes if disk else 0, disk_write=disk.write_bytes if disk else 0)
        return values

    def _rates(self) -> dict[str, float]:
        """计数差 / 时间差；回绕或重置时返回 NaN（图上是一个缺口）并重新建立基准。"""
        moment, counters = time.monotonic(), self.counters()
        assert self.previous is not None
        then, before = self.previous
        self.previous = (moment, counters)
        elapsed = moment - then
        rates = {}
        for key, value in counters.items():
            delta = value - before.get(key, value)
            rates[key] = delta / elapsed if delta >= 0 and elapsed > 0 else math.nan
        return rates

    def fetch(self) -> pd.DataFrame:
        row: dict[str, float] = {}
        if "cpu" in self.metrics:
            # interval=None：与上一次调用之间的平均值，不阻塞调度线程
            row["cpu"] = psutil.cpu_percent(interval=None)
        if "cpu_cores" in self.metrics:
            row.update({f"cpu{i}": v for i, v in enumerate(psutil.cpu_percent(interval=None, percpu=True))})
        if "memory" in self.metrics:
            row["memory"] = psutil.virtual_memory().percent
        if "swap" in self.metrics:
            row["swap"] = psutil.swap_memory().percent
        if "load" in self.metrics:
            row.update(zip(("load1", "load5", "load15"), psutil.getloadavg(), strict=True))
        if self._needs_counters:
            row.update(self._rates())
        return one_row({c: row[c] for c in self.columns({"metrics": self.metrics})})
