"""/scheduler API 中由 livechart 自己执行的操作：守卫放行之后、Flask-APScheduler 的视图之前。

新增、修改（PATCH）、删除、暂停、恢复任务都经过 coordination.change：多进程时先写进 Redis 再应用，
单进程时直接应用——每个修改只有一条路径、只应用一次，响应里的任务就是应用之后的样子。
Flask-APScheduler 的 modify_job 不能修改 jitter、重设间隔时丢掉其余触发参数并恢复暂停的任务，而且先改间隔、后报错
（半途而废的修改），所以 PATCH 由这里先完整校验、再一次应用。Flask-APScheduler 自己的视图只用于查看（GET）、
整体暂停 / 恢复调度器和立即运行（run）；响应仍用它的 JSON 格式。

多进程模式（共用 Redis）下整个调度器的暂停与恢复作用于整个服务（记进 Redis，所有进程应用）；start 只对本进程有意义，
所以回答 409 并说明怎么做。立即运行（run）由图表的所有者执行：本进程不是所有者时请它重绘并等结果（窗口不会分叉）。
每个请求（包括查看）之前先与 Redis 中的期望状态对齐：PATCH 回答的就是之后任何进程上 GET 看到的。

POST /scheduler/shutdown 一律 409：APScheduler 关闭调度器时也关闭了线程池并清空任务存储，之后再 start
只会报告“运行中”却没有任务（docs/pitfalls.md 第 19 条）。停止重绘用 POST /scheduler/pause，停止服务就停止进程。
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.schedulers.base import STATE_STOPPED
from flask import Response
from flask import current_app
from flask import request
from flask_apscheduler.json import jsonify as job_json
from flask_apscheduler.utils import job_to_dict

from livechart import coordination
from livechart import store
from livechart.durations import duration_text
from livechart.errors import json_error
from livechart.extensions import scheduler
from livechart.jobs import redrawers
from livechart.jobspec import IntervalLimits
from livechart.jobspec import JobSpecError
from livechart.jobspec import check_job
from livechart.jobspec import check_patch
from livechart.spec import chart_of_job

SHUTDOWN_REFUSED = (
    "在 APScheduler 里关闭调度器是不可逆的（线程池被关闭、任务被清空，之后再 start 只会报告“运行中”却没有任务）："
    "要停止、再恢复重绘，请用 POST /scheduler/pause 和 /scheduler/resume（共用 Redis 时作用于整个服务），或者停止进程"
)


def _charts() -> dict[str, Any]:
    return {name: redrawer.spec for name, redrawer in redrawers().items()}


def _limits() -> IntervalLimits:
    return IntervalLimits.of(current_app.config)


def _job(job_id: str) -> Response:
    """任务当前的样子（Flask-APScheduler 的 JSON 格式）；重新载入配置刚删掉了它时 404。"""
    job = scheduler.get_job(job_id)
    if job is None:
        return json_error(404, "not_found", f"任务 {job_id!r} 不存在")
    return job_json(job)


def _chart(job_id: str) -> str:
    """任务 id → 它重绘的图表（spec.chart_of_job）。守卫已确认任务存在，而调度器里只有图表的重绘任务；
    万一不是，按图表已不在配置里回答 404（perform），而不是拿任务 id 当图表名。"""
    chart = chart_of_job(job_id)
    if chart is None:
        raise coordination.UnknownChart(job_id)
    return chart


def _change(chart: str, want: dict[str, Any], *, replace: bool = False) -> None:
    coordination.change(_app(), chart, want, replace=replace)


def add_job(body: dict[str, Any]) -> Response:
    """POST /scheduler/jobs：新增一个图表的重绘任务（这个图表还没有任务时）。"""
    desired = check_job(body, _charts(), _limits(), cap=True)
    job_id = body["id"]
    if scheduler.get_job(job_id) is not None:
        return json_error(409, "conflict", f"任务 {job_id!r} 已经存在：请 PATCH 它，或者先 DELETE 它")
    _change(_chart(job_id), {"removed": False, "paused": False, **desired}, replace=True)
    return _job(job_id)


def update_job(body: dict[str, Any], job_id: str) -> Response:
    """PATCH /scheduler/jobs/<id>：先校验全部字段，再一次应用；GET 的结果改几个字段后原样发回也可以。"""
    job = scheduler.get_job(job_id)
    if job is None:  # 守卫检查之后，别的进程刚删掉了它（对齐线程已应用）
        return json_error(404, "not_found", f"任务 {job_id!r} 不存在")
    changes = check_patch(body, job_to_dict(job), _charts(), _limits())
    if changes:
        _change(_chart(job_id), changes)
    return _job(job_id)


def delete_job(body: dict[str, Any], job_id: str) -> Response:
    """DELETE /scheduler/jobs/<id>：删除任务；图表不再重绘，状态与健康检查说明原因。"""
    _change(_chart(job_id), {"removed": True})
    return Response(status=204)


def pause_job(body: dict[str, Any], job_id: str) -> Response:
    """POST /scheduler/jobs/<id>/pause。"""
    _change(_chart(job_id), {"paused": True})
    return _job(job_id)


def resume_job(body: dict[str, Any], job_id: str) -> Response:
    """POST /scheduler/jobs/<id>/resume。"""
    _change(_chart(job_id), {"paused": False})
    return _job(job_id)


SHARED_START_REFUSED = (
    "共用 Redis 时每个进程各有自己的调度器，/scheduler/start 只会启动回答这个请求的那一个进程："
    "要让一个进程运行任务，请用 LIVECHART_SCHEDULER=running 启动它；要暂停或恢复整个服务，请用 POST /scheduler/pause 和 /scheduler/resume"
)


def _app() -> Any:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def pause_scheduler(body: dict[str, Any]) -> Response | None:
    """POST /scheduler/pause：多进程模式下暂停整个服务；单进程时交给 Flask-APScheduler 的视图。"""
    if not coordination.get().enabled:
        return None
    coordination.change_service(_app(), paused=True)
    return Response(status=204)


def resume_scheduler(body: dict[str, Any]) -> Response | None:
    """POST /scheduler/resume：多进程模式下恢复整个服务；单进程时交给 Flask-APScheduler 的视图。"""
    if not coordination.get().enabled:
        return None
    coordination.change_service(_app(), paused=False)
    return Response(status=204)


def start_scheduler(body: dict[str, Any]) -> Response:
    """POST /scheduler/start：启动还没有启动的调度器（LIVECHART_SCHEDULER = "off" 时）。

    不用 Flask-APScheduler 的 start()：它在 FLASK_DEBUG 下或主机不在 SCHEDULER_ALLOWED_HOSTS 中时什么也不做，
    API 却回答 204（docs/pitfalls.md 第 3 条）。
    """
    if coordination.get().enabled:
        return json_error(409, "conflict", SHARED_START_REFUSED)
    if scheduler.state == STATE_PAUSED:
        return json_error(409, "conflict", "调度器已经启动，正处于暂停状态；请 POST /scheduler/resume")
    if scheduler.state != STATE_STOPPED:
        return json_error(409, "conflict", "调度器已经在运行")
    allowed = scheduler.allowed_hosts
    if "*" not in allowed and scheduler.host_name not in allowed:
        return json_error(409, "conflict", f"本主机（{scheduler.host_name}）不在 SCHEDULER_ALLOWED_HOSTS {allowed} 中")
    scheduler.scheduler.start()
    return Response(status=204)


class Removed(Exception):
    """图表在请求期间从配置里删掉了（重新载入配置）。"""


class OwnerSilent(Exception):
    """图表的所有者没有在期限内画出新的一版，也没有报告失败（它可能刚死掉，或正在重连 Redis）。"""


def _redraw_by_owner(chart: str) -> None:
    """立即重绘：本进程是所有者（或图表没有所有者、由本进程接手）时在这个请求里重绘；否则请所有者重绘并等它的结果。

    等所有者时只读版本号与错误记录（几十字节），版本号变了才读一次图片记录；所有者在取数期限加 2 秒内没有回答时抛 OwnerSilent。
    """
    redrawer = redrawers().get(chart)
    if redrawer is None:
        raise Removed(chart)
    coordinator = coordination.get()
    if coordinator.owns(chart) or coordinator.take(chart, redrawer.live_interval()):
        redrawer.redraw()
        return
    version, failure = store.current_version(chart), store.load_failure(chart)
    coordinator.ask_to_run(chart)
    give_up = time.monotonic() + redrawer.fetch_seconds + 2
    while time.monotonic() < give_up:
        time.sleep(0.05)
        now = store.current_version(chart)
        if now != version:
            # 版本号先加一、图片记录后写入（store.save_image）：等到图片记录也是这一版，回答的才是新图
            image = store.load_image(chart)
            if image is not None and image.version >= now:
                return
            continue
        if store.load_failure(chart) != failure:
            return
    raise OwnerSilent(f"拥有图表 {chart!r} 的进程（{coordinator.holder(chart) or '现在没有'}）没有在 "
                      f"{duration_text(redrawer.fetch_seconds + 2)}内重绘它；请稍后重试")  # fmt: skip


def run_job(body: dict[str, Any], job_id: str) -> Response:
    """POST /scheduler/jobs/<id>/run：立即重绘，回答发生了什么。

    Flask-APScheduler 的 run 不管结果都回答 200 和任务本身：数据源失败、另一次重绘正占着、缓存写不进去时，
    客户端都以为画好了。这里：画出新的一版 200（任务 JSON 加上 "run"），数据源或绘制失败 424（公开的错误消息），
    另一次重绘正在进行（或所有者没有及时回答）409；缓存不可用或满了由错误处理器回答 503。
    """
    chart = _chart(job_id)
    before, failed_before = store.load_image(chart), store.load_failure(chart)
    started = time.time()
    try:
        _redraw_by_owner(chart)
    except OwnerSilent as exc:
        return json_error(503, "unavailable", str(exc), {"Retry-After": "1"})
    except Removed:
        pass  # 下面按任务已经不在回答
    if scheduler.get_job(job_id) is None:
        return json_error(404, "not_found", f"任务 {job_id!r} 不存在：图表 {chart!r} 已从配置中删除")
    after = store.load_image(chart)
    failure = store.load_failure(chart)
    if store.state() != "ok":
        raise store.Full if store.state() == "full" else store.Unavailable
    if after is not None and (before is None or after.version != before.version):
        result = {"rendered": True, "version": after.version, "render_ms": round(after.render_ms, 2)}
        return job_json({**job_to_dict(scheduler.get_job(job_id)), "run": result})
    if failure is not None and failure.consecutive and (failure.at >= started or failure != failed_before):
        return json_error(424, "failed_dependency", f"图表 {chart!r} 没有重绘成功：{failure.message}")
    return json_error(409, "conflict", f"图表 {chart!r} 正在被另一个请求或任务重绘；请稍后重试", {"Retry-After": "1"})


def shutdown_scheduler(body: dict[str, Any]) -> Response:
    """POST /scheduler/shutdown：拒绝（见模块说明）。"""
    return json_error(409, "conflict", SHUTDOWN_REFUSED)


HANDLERS: dict[str, Callable[..., Response | None]] = {
    "add_job": add_job,
    "update_job": update_job,
    "delete_job": delete_job,
    "pause_job": pause_job,
    "resume_job": resume_job,
    "pause_scheduler": pause_scheduler,
    "resume_scheduler": resume_scheduler,
    "start_scheduler": start_scheduler,
    "run_job": run_job,
    "shutdown_scheduler": shutdown_scheduler,
}


def sync() -> None:
    """每个 /scheduler 请求之前：与 Redis 中的期望状态对齐（Redis 不可用时照本进程现有的状态）。"""
    coordination.sync_quietly(_app())


def perform(endpoint: str, body: dict[str, Any]) -> Response | None:
    """执行 livechart 自己处理的操作；其余（查看，单进程时整体暂停 / 恢复）返回 None，交给 Flask-APScheduler 的视图。"""
    handler = HANDLERS.get(endpoint)
    if handler is None:
        return None
    try:
        return handler(body, **(request.view_args or {}))
    except coordination.UnknownChart as exc:
        # 守卫检查之后、修改之前，重新载入配置删掉了这个图表：什么都没改
        return json_error(404, "not_found", f"图表 {exc} 已不在配置中（配置刚重新载入）；什么都没有改")
    except JobSpecError as exc:
        return json_error(400, "bad_request", str(exc))
    except store.Unavailable as exc:
        # 多进程模式下修改先写进 Redis（coordination.change）：写不进去就什么都没改（store 已记录 Redis 的状态）
        problem = "已满（maxmemory）" if isinstance(exc, store.Full) else "不可用"
        return json_error(503, "unavailable", f"共享缓存（Redis）{problem}，所以没有做这个修改；请稍后重试", {"Retry-After": "1"})
