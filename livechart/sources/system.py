"""本机指标数据源（psutil）。"""

from __future__ import annotations

import math
import threading
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

# 计数类指标（CPU、网络、磁盘）一次读数至少覆盖的秒数：间隔太短时 CPU 时间只有几个时钟滴答，读数只能是 0 或 100
MIN_SPAN = 0.1


def cpu_busy_percent(before: Any, after: Any) -> float:
    """两次 psutil.cpu_times() 样本之间的 CPU 使用率（%）。

    与 psutil.cpu_percent 内部的 calculate 用同一套 psutil 函数（版本固定在 requirements.txt）：
    各字段差值（变小的截为 0）、总时间去掉 guest（Linux 上已计入 user/nice）、忙碌时间再去掉 idle 与 iowait。
    两次样本由调用方保存，所以结果与调用线程无关（docs/pitfalls.md 第 18 条）。总时间为 0 时返回 NaN（图上的缺口）。
    """
    # 私有函数：types-psutil 不声明它们
    delta = psutil._cpu_times_deltas(before, after)  # type: ignore[attr-defined]
    total = psutil._cpu_tot_time(delta)  # type: ignore[attr-defined]
    if total <= 0:
        return math.nan
    return round(psutil._cpu_busy_time(delta) / total * 100, 1)  # type: ignore[attr-defined]


class SystemSource(Source):
    """本机指标（psutil）：CPU（总计与每核）、内存、交换分区、负载、网络与磁盘吞吐。

    CPU 使用率与吞吐量都来自本对象自己保存的上一次样本（psutil.cpu_times()、网络与磁盘计数器）：
    不依赖 psutil.cpu_percent(None) 按线程保存的基准，调度线程、请求线程读到的都是同一段时间的值。
    构造时取第一份样本；每次读数至少覆盖 MIN_SPAN 秒（不够时先等一下），所以构造后立即预热的第一个点也是真实的。
    吞吐量由计数差除以时间差得到；计数器回绕或被重置（差值为负）时，
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
            raise SourceError("数据源参数 'metrics' 必须是非空的列表")
        bad = [m for m in metrics if m not in cls.METRICS]
        if bad:
            raise SourceError(f"不认识的本机指标 {bad[0]!r}（可用的指标：{', '.join(cls.METRICS)}）")
        return {"metrics": list(metrics)}

    @classmethod
    def columns(cls, params: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(c for m in params["metrics"] for c in cls.METRICS[m])

    def __init__(self, metrics: list[str], counters: Callable[[], dict[str, float]] | None = None) -> None:
        self.metrics = metrics
        # 计数器读取函数可注入（测试计数器重置时用；真实内核计数器无法重置）
        self.counters = counters or self._read_counters
        # 同一数据源被两个线程同时读取时（计划运行与 POST …/run），样本的“读—换”不能交错
        self.lock = threading.Lock()
        self.previous: tuple[float, dict[str, float]] | None = None
        self.cpu_times: tuple[Any, list[Any]] | None = None
        if self._needs_cpu:
            self.cpu_times = self._read_cpu_times()
        if self._needs_counters:
            self.previous = (time.monotonic(), self.counters())
        self.sampled_at = time.monotonic()

    @property
    def _needs_cpu(self) -> bool:
        return "cpu" in self.metrics or "cpu_cores" in self.metrics

    @property
    def _needs_counters(self) -> bool:
        return "net" in self.metrics or "disk" in self.metrics

    @staticmethod
    def _read_cpu_times() -> tuple[Any, list[Any]]:
        """总计与每核的累计 CPU 时间。"""
        return psutil.cpu_times(), psutil.cpu_times(percpu=True)

    def _cpu_usage(self) -> dict[str, float]:
        """与上一次样本之间的 CPU 使用率（总计与每核），并把这次样本留作下一次的基准。"""
        assert self.cpu_times is not None
        (total_before, cores_before), (total, cores) = self.cpu_times, self._read_cpu_times()
        self.cpu_times = (total, cores)
        usage = {"cpu": cpu_busy_percent(total_before, total)}
        # 每核：按序号对应（CPU 热插拔使核数变化时，多出或缺少的核这一次没有值）
        usage.update({f"cpu{i}": cpu_busy_percent(a, b) for i, (a, b) in enumerate(zip(cores_before, cores, strict=False))})
        return usage

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
        if self._needs_cpu or self._needs_counters:
            with self.lock:
                # 距上一次样本不足 MIN_SPAN 秒时先等够（最多 0.1 秒）：第一个点与紧挨着的两次重绘都不会是噪声
                time.sleep(max(0.0, self.sampled_at + MIN_SPAN - time.monotonic()))
                if self._needs_cpu:
                    row.update(self._cpu_usage())
                if self._needs_counters:
                    row.update(self._rates())
                self.sampled_at = time.monotonic()
        if "memory" in self.metrics:
            row["memory"] = psutil.virtual_memory().percent
        if "swap" in self.metrics:
            row["swap"] = psutil.swap_memory().percent
        if "load" in self.metrics:
            row.update(zip(("load1", "load5", "load15"), psutil.getloadavg(), strict=True))
        return one_row({c: row.get(c, math.nan) for c in self.columns({"metrics": self.metrics})})
