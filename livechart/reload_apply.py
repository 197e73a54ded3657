"""应用重新载入的配置：只动变了的部分（docs/reload.md 的“Applying the difference”）。

- 任务的间隔与选项变了：以文件为准（覆盖之前运行时对这个任务的修改，docs/reload.md 的优先规则），暂停保留；
- 新增的图表：建任务、预热（几个进程时由认领到节拍的那一个画），页面自己加上它；
- 删掉的图表：删任务，删它的图片、版本号、错误记录、窗口、租约与期望状态（Redis 里的键），指标序列，路由回答 404；
- 规格变了的图表：换新的绘制器并立即重绘；数据源没变时窗口保留，变了时窗口从头开始。
这里的一切都已校验、建好（livechart/reload_plan.py），不会半途而废。
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask

from livechart import alignment
from livechart import configfile
from livechart import coordination
from livechart import history
from livechart import jobs
from livechart import metrics
from livechart import settings
from livechart import store
from livechart import variant_redraw
from livechart.extensions import scheduler
from livechart.jobspec import IntervalLimits
from livechart.jobspec import job_interval
from livechart.redrawer import Redrawer
from livechart.reload_plan import Plan
from livechart.reload_plan import Prepared
from livechart.spec import job_id_for

log = logging.getLogger("livechart")

# 删掉的图表：最多等它正在进行的重绘这么久，再删它的键（否则那次重绘画完又把图片写回去）
REMOVE_WAIT_SECONDS = 2.0


def swap(app: Flask, new: Prepared) -> None:
    """换上新的设置、重绘器与任务，删掉删除了的图表，换下来的数据源在用它的重绘结束后关闭。"""
    change, redrawers, previous, declared = new.plan, new.redrawers, new.previous, new.declared
    coordinator = coordination.get(app)
    with app.app_context():
        with coordinator.lock:
            for name in settings.LIVE_SETTINGS:
                if name in new.raw:
                    app.config[name] = configfile.copied(new.raw[name])
            app.config["LIVECHART_FUTURE_MARGIN"] = new.checked.future_margin
            if coordinator.enabled:
                app.config["JOBS"] = [alignment.aligned(job) for job in app.config["JOBS"]]
            for chart in change.removed:  # 先删任务：之后不会再开始新的重绘
                if scheduler.get_job(job_id_for(chart)) is not None:
                    scheduler.remove_job(job_id_for(chart))
            for name, redrawer in redrawers.items():
                redrawer.interval = new.checked.intervals[name]
                redrawer.fetch_seconds = jobs.fetch_deadline(redrawer.spec.source_params, app.config["LIVECHART_FETCH_TIMEOUT"])
            for chart in (*change.removed, *change.new_source):
                # 删掉的图表与换下来的数据源：正在进行的重绘画完也不再写任何东西
                previous[chart].retired = True
            # 先换上新的声明（web 角色的状态从它读间隔），再换上新的重绘器
            coordinator.redeclare(declared)
            app.extensions[jobs.EXTENSION] = redrawers
            _refresh_fast_path(app)
            for chart in change.added:
                metrics.add(app, chart)
                store.forget_copy(chart)  # 以前同名图表的副本（跟随线程可能替没重新载入的进程读进来过）
            for chart in change.added:
                _apply_job(app, chart, declared[chart])
            for chart, (old, _) in change.jobs.items():
                _apply_job(app, chart, declared[chart], old)
        for chart in change.removed:
            _forget(app, chart, previous[chart])
        for chart in change.new_source:
            # 窗口由新数据源的第一次写入清空（livechart/history.py 的数据源指纹）；旧的数据源在用它的重绘结束后关闭
            _close_later(previous[chart])


def check_limits(app: Flask, change: Plan) -> None:
    """新的间隔上下限：运行中已经超出范围的任务（运行时改过的间隔）说出来，不悄悄留着。"""
    if not {"LIVECHART_MIN_INTERVAL", "LIVECHART_MAX_INTERVAL"} & set(change.settings):
        return
    limits = IntervalLimits.of(app.config)
    for name in jobs.redrawers(app):
        seconds = job_interval(scheduler.get_job(job_id_for(name)))
        if seconds is not None and not limits.low <= seconds <= limits.high:
            log.warning(
                "任务 %s 的间隔 %g 秒（运行时改的）不在新的范围 [%g, %g] 秒内：它照旧运行；用 PATCH 或在配置文件里改它",
                job_id_for(name), seconds, limits.low, limits.high,
            )  # fmt: skip


def _apply_job(app: Flask, chart: str, declared: dict[str, Any], previous: dict[str, Any] | None = None) -> None:
    """新增的图表、任务声明变了的图表：按文件建任务或改任务（文件改过的任务以文件为准，暂停保留）。"""
    coordinator = coordination.get(app)
    if not coordinator.enabled:
        # 文件声明的就是任务的全部：没有声明的选项回到默认值（之前运行时的修改作废），暂停保留
        want = {**alignment.job_defaults(app, chart), **declared}
        job = scheduler.get_job(job_id_for(chart))
        if job is not None and previous is not None:
            # 运行时改过（与旧的声明不同）的，说出来：与多进程时 settle_precedence 的那一行一样
            before = {"seconds": job_interval(job), **{k: getattr(job, k, None) for k in want if k != "seconds"}}
            was = {**alignment.job_defaults(app, chart), **previous}
            runtime = {k: v for k, v in before.items() if v != was.get(k)}
            if runtime:
                log.warning("配置文件改过图表 %s 的任务：以配置文件为准，作废运行时的修改 %s", chart, runtime)
        alignment.apply(coordinator, chart, want)
        return
    try:
        alignment.settle_precedence(coordinator, [chart])
        want = coordinator.desired_one(chart)
    except store.Unavailable:
        want = {}  # Redis 恢复后对齐线程再按期望状态对齐
    alignment.apply(coordinator, chart, want)


def _refresh_fast_path(app: Flask) -> None:
    """快速路径（livechart/fastpath.py）按新的图表重建它的表。"""
    # 用到时才导入：fastpath 经 views 导入 livechart.reload，而 reload 导入本模块
    from livechart import fastpath

    if fastpath.EXTENSION in app.extensions:
        fastpath.refresh(app)


def _forget(app: Flask, chart: str, redrawer: Redrawer) -> None:
    """删掉的图表：等它正在进行的重绘（最多 REMOVE_WAIT_SECONDS 秒），再删掉它在缓存与 Redis 里的一切。"""
    acquired = redrawer.lock.acquire(timeout=REMOVE_WAIT_SECONDS)
    coordinator = coordination.get(app)
    try:
        if coordinator.still_declared_elsewhere(chart):
            # 别的进程还没重新载入（或配置不同）：共享的键留给最后一个不再声明它的进程删，
            # 否则很快又加回来时，没看到删除的进程与看到了的进程状态不一致（如运行时的暂停）
            coordinator.release(chart)
            coordinator.owned.pop(chart, None)
            store.forget_copy(chart)
        else:
            coordinator.forget_chart(chart)
            history.get(app).remove(chart)
            store.forget(chart)
    except store.Unavailable:
        log.warning("图表 %s 已删除，但缓存（Redis）不可用：它的键没有删掉，同名的图表再加回来时会接着用它们", chart)
    finally:
        if acquired:
            redrawer.lock.release()
    metrics.forget(app, chart)
    variant_redraw.demand(app).forget(chart)
    redrawer.close_source()


def _close_later(redrawer: Redrawer) -> None:
    """换下来的数据源：等用它的那次重绘结束再关闭（锁与新的重绘器共用）。"""

    def close() -> None:
        acquired = redrawer.lock.acquire(timeout=redrawer.fetch_seconds + REMOVE_WAIT_SECONDS)
        try:
            redrawer.close_source()
        finally:
            if acquired:
                redrawer.lock.release()

    threading.Thread(target=close, name=f"livechart-close-{redrawer.spec.name}", daemon=True).start()


def draw_soon(app: Flask, change: Plan, redrawers: dict[str, Redrawer]) -> None:
    """新增的图表预热（几个进程时认领到节拍的那一个画）；规格变了的图表由所有者立即重绘。暂停的图表不画。"""
    coordinator = coordination.get(app)
    if not app.config["LIVECHART_WARM_CACHE"] or (coordinator.enabled and app.config["LIVECHART_SCHEDULER"] == "off"):
        return

    with app.app_context():
        held = coordination.held_back(app)  # 与启动时的预热一样：整个服务或这个任务暂停时不画

    def draw(name: str, redrawer: Redrawer, new: bool) -> None:
        with app.app_context():
            job = scheduler.get_job(job_id_for(name))
            if name in held or job is None or alignment.is_paused(job):
                return
            if new:
                if jobs.claim_tick(name, redrawer):
                    redrawer.redraw()
            elif coordinator.owns(name):
                redrawer.redraw(urgent=True)

    for name in (*change.added, *change.respecced):
        thread = threading.Thread(target=draw, args=(name, redrawers[name], name in change.added), daemon=True,
                                  name=f"livechart-reload-{name}")  # fmt: skip
        thread.start()
