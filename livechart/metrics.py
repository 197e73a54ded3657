"""Prometheus 指标（prometheus-client）：渲染与失败次数、渲染耗时、任务启动延迟、图片大小、图片请求与缓存未命中。

每个 app 一个独立的 CollectorRegistry（放在 app.extensions 中），同一进程里的多个 app（测试）互不干扰。
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from apscheduler.events import EVENT_JOB_SUBMITTED
from apscheduler.events import JobSubmissionEvent
from flask import Flask
from flask import current_app
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram

from livechart.extensions import scheduler
from livechart.spec import JOB_ID_PREFIX

EXTENSION = "livechart.metrics"
# 渲染耗时的桶（秒）：一次绘制通常 10–50 ms
RENDER_BUCKETS = (0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)
LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


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
        renders=Counter("livechart_renders", "Successful renders", ["chart"], registry=registry),
        failures=Counter("livechart_render_failures", "Failed redraws (source or drawing errors)", ["chart"], registry=registry),
        render_seconds=Histogram(
            "livechart_render_seconds", "Time to fetch and draw one chart", ["chart"], buckets=RENDER_BUCKETS, registry=registry
        ),
        lateness=Histogram(
            "livechart_job_lateness_seconds",
            "Delay between a job's scheduled time and its submission",
            ["chart"],
            buckets=LATENESS_BUCKETS,
            registry=registry,
        ),
        image_bytes=Gauge("livechart_image_bytes", "Size of the current PNG", ["chart"], registry=registry),
        image_requests=Counter("livechart_image_requests", "Image requests by status", ["chart", "status"], registry=registry),
        cache_misses=Counter(
            "livechart_cache_misses", "Image requests that found no image in the cache", ["chart"], registry=registry
        ),
    )


def get(app: Flask | None = None) -> Metrics:
    """当前 app 的指标。"""
    return (app or current_app).extensions[EXTENSION]


def _on_submitted(event: JobSubmissionEvent) -> None:
    """任务提交时记录启动延迟（计划时间 → 实际提交）。监听器在调度器线程里运行，没有 app 上下文。"""
    app = scheduler.app
    if app is None or EXTENSION not in app.extensions or not event.job_id.startswith(JOB_ID_PREFIX):
        return
    chart = event.job_id[len(JOB_ID_PREFIX) :]
    now = time.time()
    for scheduled in event.scheduled_run_times:
        get(app).lateness.labels(chart).observe(max(0.0, now - scheduled.timestamp()))


_listening = False


def init_app(app: Flask, charts: list[str]) -> None:
    """为 app 建立指标，并（每个进程一次）注册调度器监听器。"""
    global _listening
    metrics = app.extensions[EXTENSION] = _create()
    for chart in charts:
        # 预先创建各图表的序列：从 0 开始，而不是第一次发生时才出现
        for family in (metrics.renders, metrics.failures, metrics.cache_misses, metrics.render_seconds, metrics.lateness):
            family.labels(chart)
    if not _listening:
        scheduler.add_listener(_on_submitted, EVENT_JOB_SUBMITTED)
        _listening = True
