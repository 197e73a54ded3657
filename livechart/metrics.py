"""Prometheus 指标（prometheus-client）：渲染与失败次数、渲染耗时、任务启动延迟、图片大小、图片请求与缓存未命中。

单进程（make run、测试）：每个 app 一个独立的 CollectorRegistry（放在 app.extensions 中），同一进程里的多个 app
（测试）互不干扰。

gunicorn（make run-prod）：prometheus-client 的多进程模式。主进程在 fork 工作进程之前准备一个 tmpfs 上的空目录
（enable_multiprocess），每个工作进程把指标写进其中自己的 mmap 文件，/metrics 每次抓取都合并目录里的全部文件：
任何一个工作进程回答的都是整个服务器；退出了的工作进程的计数仍在合计里，计数器不会倒退（docs/pitfalls.md 第 29 条）。
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from apscheduler.events import EVENT_JOB_SUBMITTED
from apscheduler.events import JobSubmissionEvent
from flask import Flask
from flask import current_app
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram
from prometheus_client import generate_latest
from prometheus_client import multiprocess
from prometheus_client import values
from prometheus_client.metrics_core import Metric

from livechart.extensions import scheduler
from livechart.spec import ConfigError
from livechart.spec import chart_of_job

EXTENSION = "livechart.metrics"
# 渲染耗时的桶（秒）：一次绘制通常 10–50 ms
RENDER_BUCKETS = (0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)
LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# prometheus-client 多进程模式的目录（它自己只认这个环境变量）
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# 没有 /dev/shm（tmpfs）时退回系统的临时目录
SHM = Path("/dev/shm")
# livechart 自己建的目录的前缀，以及其中的锁文件（不是 *.db：MultiProcessCollector 不读它）。
# 主进程持有锁文件上的 flock，fork 出的工作进程共享它：服务器（任何一个进程）还在，锁就被持有
DIRECTORY_PREFIX = "livechart-metrics-"
LOCK = "livechart.lock"


@dataclass
class Metrics:
    """一个 app 的全部指标。"""

    registry: CollectorRegistry
    renders: Counter
    failures: Counter
    render_seconds: Histogram
    lateness: Histogram
    image_bytes: Gauge
    image_requests: Counter
    cache_misses: Counter


def _create() -> Metrics:
    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        renders=Counter("livechart_renders", "成功的渲染次数", ["chart"], registry=registry),
        failures=Counter("livechart_render_failures", "失败的重绘次数（数据源或绘制出错）", ["chart"], registry=registry),
        render_seconds=Histogram(
            "livechart_render_seconds", "一个图表取数并绘制所用的时间（秒）", ["chart"], buckets=RENDER_BUCKETS, registry=registry
        ),
        lateness=Histogram(
            "livechart_job_lateness_seconds",
            "任务从计划时间到实际提交的延迟（秒）",
            ["chart"],
            buckets=LATENESS_BUCKETS,
            registry=registry,
        ),
        # 多进程时取最近一次 set 的值：画图的进程会变（交接、重启），当前的图就是最后画的那张
        image_bytes=Gauge(
            "livechart_image_bytes", "当前 PNG 图片的大小（字节）", ["chart"], registry=registry, multiprocess_mode="mostrecent"
        ),
        image_requests=Counter("livechart_image_requests", "图片请求数（按状态）", ["chart", "status"], registry=registry),
        cache_misses=Counter("livechart_cache_misses", "在缓存里没有找到图片的图片请求数", ["chart"], registry=registry),
    )


def get(app: Flask | None = None) -> Metrics:
    """当前 app 的指标。"""
    return (app or current_app).extensions[EXTENSION]


def is_multiprocess() -> bool:
    """本进程的指标是否写进多进程目录（prometheus-client 在导入时、或 enable_multiprocess 之后决定）。"""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


class _CurrentCharts:
    """只留下配置里现在有的图表的序列：多进程模式下删不掉序列（它们在各进程的 mmap 文件里），
    删掉的图表的序列就在这里滤掉（重新载入配置，docs/reload.md）。"""

    def __init__(self, collector: multiprocess.MultiProcessCollector, charts: set[str]) -> None:
        self.collector = collector
        self.charts = charts

    def collect(self) -> Iterator[Metric]:
        for family in self.collector.collect():
            family.samples = [s for s in family.samples if "chart" not in s.labels or s.labels["chart"] in self.charts]
            yield family


def exposition(charts: set[str], app: Flask | None = None) -> bytes:
    """/metrics 的正文：多进程时每次新建 registry 合并目录里所有进程的文件（只留 charts 里现有的图表），否则是本 app 的 registry。"""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    if is_multiprocess():
        registry = CollectorRegistry()
        registry.register(_CurrentCharts(multiprocess.MultiProcessCollector(None), charts))
        return generate_latest(registry)
    return generate_latest(get(app).registry)


def forget(app: Flask, chart: str) -> None:
    """图表从配置里删掉了：删除它的序列（多进程模式下删不掉，由 exposition 滤掉）。"""
    if is_multiprocess():
        return
    metrics = get(app)
    for family in (metrics.renders, metrics.failures, metrics.render_seconds, metrics.lateness, metrics.image_bytes,
                   metrics.image_requests, metrics.cache_misses):  # fmt: skip
        family.remove_by_labels({"chart": chart})


def add(app: Flask, chart: str) -> None:
    """新图表的序列从 0 开始，而不是第一次发生时才出现。"""
    metrics = get(app)
    for family in (metrics.renders, metrics.failures, metrics.cache_misses, metrics.render_seconds, metrics.lateness):
        family.labels(chart)


@dataclass(frozen=True)
class MultiprocessDirectory:
    """多进程模式的目录；owned：是 livechart 建的（退出时删除），否则是用户用 PROMETHEUS_MULTIPROC_DIR 指定的。
    lock：自己建的目录里锁文件的描述符（整个服务器运行期间一直打开）。"""

    path: Path
    owned: bool
    lock: int | None = None

    def mark_dead(self, pid: int) -> None:
        """一个工作进程退出了：删除它的 live* 仪表文件；计数器与直方图的文件留着，合计不倒退。"""
        multiprocess.mark_process_dead(pid, str(self.path))

    def remove(self) -> None:
        """服务器退出时：删除自己建的目录；用户的目录不删（里面的文件留给下次启动时清空）。"""
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)


def _create_owned(base: Path) -> MultiprocessDirectory:
    """在 base 里新建只属于这个服务器的目录，并锁住其中的锁文件（先锁住再改名：别人看到它时它已经被锁住）。"""
    path = Path(tempfile.mkdtemp(prefix=DIRECTORY_PREFIX, dir=base))
    lock = os.open(path / f"{LOCK}.new", os.O_CREAT | os.O_WRONLY, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    os.rename(path / f"{LOCK}.new", path / LOCK)
    return MultiprocessDirectory(path, owned=True, lock=lock)


def _remove_orphans(base: Path) -> None:
    """删除被 kill -9 的服务器留下的目录（on_exit 没有运行）：它的锁文件已经没有任何进程持有。

    看进程号不可靠（进程号会重用；共享 /dev/shm 的容器各有各的进程号），flock 由内核随最后一个持有它的进程释放。
    没有锁文件的目录（不是 livechart 建的，或者正在创建）不动。
    """
    for directory in base.glob(f"{DIRECTORY_PREFIX}*"):
        try:
            with open(directory / LOCK, "rb") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # 锁被持有（服务器还在）、没有锁文件、没有权限
        shutil.rmtree(directory, ignore_errors=True)


def enable_multiprocess() -> MultiprocessDirectory:
    """在 gunicorn 主进程里、fork 工作进程之前调用：准备空目录并切换到多进程模式（docs/pitfalls.md 第 29 条）。

    用户设置了 PROMETHEUS_MULTIPROC_DIR 时用它（不存在就建），清空其中 prometheus-client 的 *.db 文件（上次运行
    留下的文件会被合并进来：计数从旧值开始，旧进程的仪表值一直在），别的文件不动，退出时也不删目录。
    没有设置时在 /dev/shm（tmpfs）里新建一个只属于这个服务器的目录，退出时删除；被 kill -9 的服务器留下的目录
    在下一个服务器启动时删除。
    """
    given = os.environ.get(MULTIPROC_ENV, "").strip()
    if given:
        path = Path(given)
        try:
            path.mkdir(parents=True, exist_ok=True)
            for stale in path.glob("*.db"):
                stale.unlink()
            # 工作进程要能在里面建文件：现在就试，而不是在第一次计数时才失败
            tempfile.TemporaryFile(dir=path).close()
        except OSError as exc:
            raise ConfigError(f"{MULTIPROC_ENV}={given!r} 不能用来存放所有工作进程的指标（{exc}）") from exc
        directory = MultiprocessDirectory(path, owned=False)
    else:
        base = SHM if SHM.is_dir() and os.access(SHM, os.W_OK | os.X_OK) else Path(tempfile.gettempdir())
        _remove_orphans(base)
        directory = _create_owned(base)
    os.environ[MULTIPROC_ENV] = str(directory.path)
    # prometheus-client 在导入时按环境变量选定值的实现；导入 gunicorn 配置时（import livechart）它已经导入了，
    # 这里重新选一次。工作进程在 fork 之后才建指标，用的就是多进程的实现
    values.ValueClass = values.get_value_class()
    return directory


def _on_submitted(event: JobSubmissionEvent) -> None:
    """任务提交时记录启动延迟（计划时间 → 实际提交）。监听器在调度器线程里运行，没有 app 上下文。"""
    app, chart = scheduler.app, chart_of_job(event.job_id)
    if app is None or EXTENSION not in app.extensions or chart is None:
        return
    now = time.time()
    for scheduled in event.scheduled_run_times:
        get(app).lateness.labels(chart).observe(max(0.0, now - scheduled.timestamp()))


_listening = False


def init_app(app: Flask, charts: list[str]) -> None:
    """为 app 建立指标，并（每个进程一次）注册调度器监听器。"""
    global _listening
    app.extensions[EXTENSION] = _create()
    for chart in charts:
        add(app, chart)
    if not _listening:
        scheduler.add_listener(_on_submitted, EVENT_JOB_SUBMITTED)
        _listening = True
