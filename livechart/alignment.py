"""对齐：把期望的任务状态应用到本进程的调度器（总览见 livechart/coordination.py 第 2、3 点）。

多进程模式下期望状态在 Redis 里（livechart/desired.py），每个进程收到通知、在读取状态的请求之前（sync）、
以及对齐线程每 LIVECHART_RECONCILE_SECONDS 秒比较一次序号，变了就重新对齐；单进程时一次修改直接应用（apply，同一个函数）。
多进程模式下所有间隔任务都从共同的起点 EPOCH 开始（livechart/leases.py）：各进程在同一时刻触发，认领同一个节拍。
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from typing import Any

import redis
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.schedulers.base import STATE_RUNNING
from flask import Flask

from livechart import store
from livechart.desired import FILE_FIELDS
from livechart.desired import changed_when
from livechart.extensions import scheduler
from livechart.jobspec import JOB_OPTIONS
from livechart.jobspec import job_interval
from livechart.leases import EPOCH
from livechart.peer import as_json
from livechart.spec import JOB_FUNC
from livechart.spec import job_id_for

if TYPE_CHECKING:
    from livechart.coordination import Coordinator

log = logging.getLogger("livechart")


def aligned(job: dict[str, Any]) -> dict[str, Any]:
    """给间隔任务加上共同的起点（已有 start_date 的不动）。"""
    return job if "start_date" in job else {**job, "start_date": EPOCH}


def job_defaults(app: Flask, chart: str) -> dict[str, Any]:
    """任务选项的默认值（配置没有声明时）：名称是任务 id，其余取 SCHEDULER_JOB_DEFAULTS（没有时取 APScheduler 的默认）。"""
    defaults = app.config.get("SCHEDULER_JOB_DEFAULTS") or {}
    return {"name": job_id_for(chart), "misfire_grace_time": defaults.get("misfire_grace_time", 1),
            "coalesce": defaults.get("coalesce", True)}  # fmt: skip


def is_paused(job: Any) -> bool:
    """任务是否被暂停（调度器启动前的待定任务暂停后 next_run_time 为 None，未暂停时还没有这个属性）。"""
    return getattr(job, "next_run_time", True) is None


def apply(coordinator: Coordinator, chart: str, want: dict[str, Any]) -> None:
    """把一个图表的期望状态应用到本进程的调度器。

    键：removed（删除任务）、paused、seconds（间隔）、name / misfire_grace_time / coalesce。
    任务不存在且未删除时补回。多进程模式下间隔任务对齐到 EPOCH。
    """
    app = coordinator.app
    job_id = job_id_for(chart)
    with coordinator.lock:
        file = coordinator.declared.get(chart)
        if file is None:
            return  # 重新载入配置刚删掉了这个图表：不再给它建任务
        # 多进程模式下 want 是 Redis 里的整条记录：没有的字段取配置文件的值；单进程时 want 是一次修改：没有的字段保持现状
        declared = file if coordinator.enabled else {}
        job = scheduler.get_job(job_id)
        if want.get("removed"):
            if job is not None:
                scheduler.remove_job(job_id)
            return
        start = {"start_date": EPOCH} if coordinator.enabled else {}
        seconds = float(want.get("seconds") or declared.get("seconds") or job_interval(job) or file["seconds"])
        if coordinator.enabled:
            # Redis 里的记录加上文件的声明就是任务的全部：两处都没有的选项取默认值（作废的运行时修改不会留下来）
            options = {**job_defaults(app, chart), **declared, **{k: want[k] for k in JOB_OPTIONS if k in want}}
        else:
            options = {key: want[key] for key in JOB_OPTIONS if key in want}
        options = {key: options[key] for key in JOB_OPTIONS if key in options}
        paused = bool(want["paused"]) if "paused" in want else None
        if job is None:
            # Flask-APScheduler 的 add_job：名称默认为任务 id，与配置的任务一致
            scheduler.add_job(id=job_id, func=JOB_FUNC, kwargs={"chart": chart}, trigger="interval", seconds=seconds,
                              **start, **options)  # fmt: skip
            job = scheduler.get_job(job_id)
        else:
            if paused is None:
                paused = is_paused(job)
            if job_interval(job) != seconds or (coordinator.enabled and job.trigger.start_date != EPOCH):
                # reschedule_job 会重新计算下次运行时间（即恢复暂停的任务）：下面按 paused 再暂停
                scheduler.scheduler.reschedule_job(job_id, trigger="interval", seconds=seconds, **start)
                coordinator.reexpire(chart, seconds)
            # 调度器启动之前的待定任务还没有取默认值的选项（没有这个属性）
            changed = {key: value for key, value in options.items() if getattr(job, key, None) != value}
            if changed:
                scheduler.scheduler.modify_job(job_id, **changed)
            job = scheduler.get_job(job_id)
        if paused and not is_paused(job):
            scheduler.pause_job(job_id)
        elif paused is False and is_paused(job):
            scheduler.resume_job(job_id)


def apply_service(paused: bool | None) -> None:
    """把整个服务的调度器状态应用到本进程（没有启动的调度器不动）。"""
    if paused is None:
        return
    if paused and scheduler.state == STATE_RUNNING:
        scheduler.pause()
        log.info("调度器已暂停（整个服务）")
    elif not paused and scheduler.state == STATE_PAUSED:
        scheduler.resume()
        log.info("调度器已恢复（整个服务）")


def reconcile(coordinator: Coordinator, charts: list[str] | None = None) -> None:
    """把 Redis 中的期望状态应用到本地调度器（默认全部图表与整个服务）。"""
    names = coordinator.chart_names() if charts is None else charts
    with coordinator.lock:
        for chart, want in coordinator.desired(names).items():
            apply(coordinator, chart, want)
        if charts is None and coordinator.enabled:
            apply_service(coordinator.service_paused())


def sync(coordinator: Coordinator) -> None:
    """期望状态的序号变了（别的进程改过）就重新对齐。Redis 不可用时抛 store.Unavailable。"""
    if not coordinator.enabled:
        return
    seq = coordinator.desired_seq()
    if seq != coordinator.applied:
        with coordinator.lock:
            reconcile(coordinator)
            coordinator.applied = seq


def settle_precedence(coordinator: Coordinator, charts: list[str] | None = None) -> None:
    """启动时与重新载入配置时：配置文件在运行时的修改之后改过的任务，以文件为准（删掉运行时的修改，保留暂停），
    每个写一行日志。charts：只看这些图表（默认全部）。"""
    names = coordinator.chart_names() if charts is None else charts
    for chart, want in coordinator.desired(names).items():
        runtime = {key: want[key] for key in FILE_FIELDS if key in want}
        if not runtime or want.get("base") == as_json(coordinator.declared.get(chart)):
            continue
        if coordinator.forget_runtime(chart):
            log.warning(
                "配置文件改过图表 %s 的任务（运行时修改时是 %s，现在是 %s）：以配置文件为准，作废 %s 的运行时修改 %s",
                chart, want.get("base"), coordinator.declared.get(chart), changed_when(want.get("changed_at")), runtime,
            )  # fmt: skip


def keep_aligned(coordinator: Coordinator, period: float) -> None:
    """对齐线程：心跳、补写等待中的窗口行、期望状态变了就对齐；Redis 不可用时跳过这一轮（恢复后自动继续）。"""
    while not coordinator.stop.wait(period):
        try:
            with coordinator.app.app_context():
                rendering = scheduler.state == STATE_RUNNING
                coordinator.heartbeat(rendering)
                if not coordinator.joined:
                    coordinator.join(rendering)
                if coordinator.on_flush is not None:
                    coordinator.on_flush()
                if scheduler.running:
                    sync(coordinator)
        except (redis.RedisError, store.Unavailable):
            pass  # 由 store 记录 Redis 的可用性变化（只在状态改变时写日志）
        except Exception:
            log.exception("对齐任务状态失败")
