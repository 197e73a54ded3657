"""蓝图：页面、图片与状态 JSON。视图只读缓存；只有缓存未命中时才在请求中绘制一次。"""

from __future__ import annotations

import math
import time
from datetime import UTC
from datetime import datetime
from typing import Any

from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.schedulers.base import STATE_STOPPED
from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.http import parse_date

from livechart import coordination
from livechart import jobs
from livechart import metrics
from livechart import reload
from livechart import store
from livechart import variant_redraw
from livechart import variants
from livechart.errors import json_error
from livechart.extensions import scheduler
from livechart.jobspec import job_interval
from livechart.leases import EPOCH
from livechart.redrawer import Redrawer
from livechart.spec import job_id_for
from livechart.variants import DEFAULT
from livechart.variants import Variant

bp = Blueprint("livechart", __name__)

# 超过这么多个间隔没有新图（且未暂停）即为过期
STALE_INTERVALS = 3
# 快速路径（livechart/fastpath.py）的内部子请求在 environ 里置位：视图照常生成响应，但不计入请求指标（快速路径自己计数）
PREBUILD = "livechart.prebuild"
# 页面间隔选择器的选项（秒）；当前间隔不在其中时页面会补上
PAGE_INTERVALS = (1, 2, 5, 10, 30, 60, 300)
# 状态里 reason 的 code：任务为什么没有按计划重绘（OpenAPI 文档列出同一组值）
REASON_CODES = ("no_job", "job_paused", "scheduler_paused", "scheduler_stopped")
SCHEDULER_STATES = {STATE_RUNNING: "running", STATE_PAUSED: "paused", STATE_STOPPED: "stopped"}


def _iso(timestamp: float | None) -> str | None:
    """epoch 秒 → ISO 8601（UTC）。"""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


def synced() -> None:
    """回答任务状态之前：与 Redis 中的期望状态对齐（别的进程刚做的修改在这里也已生效）。"""
    coordination.sync_quietly(current_app._get_current_object())  # type: ignore[attr-defined]


def known(name: str) -> Redrawer:
    """图表的重绘器；未知图表（或重新载入配置刚删掉的）→ 404。"""
    current = jobs.redrawers()
    redrawer = current.get(name)
    if redrawer is None:
        abort(404, f"没有图表 {name!r}；现有的图表：{', '.join(current)}")
    return redrawer


def _reason(code: str, message: str) -> dict[str, str]:
    """状态里 reason 的形状：稳定的英文 code（程序判断用）加给人看的中文说明。"""
    assert code in REASON_CODES, code
    return {"code": code, "message": message}


def _no_job(name: str) -> dict[str, str]:
    job_id = job_id_for(name)
    return _reason("no_job", f"图表 {name!r} 没有任务：{job_id!r} 被删掉了，POST /scheduler/jobs 可以加回来")


def _job_paused(name: str) -> dict[str, str]:
    job_id = job_id_for(name)
    return _reason("job_paused", f"任务 {job_id!r} 已暂停，POST /scheduler/jobs/{job_id}/resume 恢复")


def _scheduler_paused() -> dict[str, str]:
    return _reason("scheduler_paused", "调度器已暂停，所有图表都不重绘；POST /scheduler/resume 恢复")


def scheduler_problem() -> dict[str, str] | None:
    """本进程的调度器为什么不运行任务（暂停或没有启动）；在运行时为 None。"""
    if scheduler.state == STATE_PAUSED:
        return _scheduler_paused()
    if scheduler.state == STATE_STOPPED:
        return _reason(
            "scheduler_stopped",
            '调度器没有运行（LIVECHART_SCHEDULER = "off"，或本主机不在 SCHEDULER_ALLOWED_HOSTS 中），'
            "所有图表都不重绘；POST /scheduler/start 启动",
        )
    return None


def _state(interval: float | None, next_run: str | None, reason: dict[str, str] | None) -> dict[str, Any]:
    """任务状态：paused 表示没有按计划重绘（任务暂停、调度器暂停或未启动、没有任务），reason 说明原因。"""
    return {"interval": interval, "paused": reason is not None, "next_run": next_run, "redrawing": reason is None,
            "reason": reason}  # fmt: skip


def _shared_state(name: str) -> dict[str, Any]:
    """web 角色（本进程不运行任务）：任务状态取自 Redis 中的期望状态，没有记录时取配置。"""
    coordinator = coordination.get()
    want = coordinator.desired_one(name)
    if want.get("removed"):
        return _state(None, None, _no_job(name))
    # 重新载入配置刚删掉这个图表时，它已经不在声明里了：按没有任务回答，而不是 KeyError
    seconds = want.get("seconds") or (coordinator.declared.get(name) or {}).get("seconds")
    if not seconds:
        return _state(None, None, _no_job(name))
    interval = float(seconds)
    if want.get("paused"):
        return _state(interval, None, _job_paused(name))
    if coordinator.service_paused():
        return _state(interval, None, _scheduler_paused())
    # 所有进程的任务都对齐到 EPOCH 的整数倍间隔，所以下次运行时间可以算出来
    epoch = EPOCH.timestamp()
    upcoming = epoch + (math.floor((time.time() - epoch) / interval) + 1) * interval
    return _state(interval, _iso(upcoming), None)


def job_state(name: str) -> dict[str, Any]:
    """图表任务的实时状态：间隔、下次运行时间（来自调度器，而非配置），以及没有在重绘时的原因。"""
    if current_app.config["LIVECHART_ROLE"] == "web":
        return _shared_state(name)
    job = scheduler.get_job(job_id_for(name))
    if job is None:
        return _state(None, None, _no_job(name))
    interval = job_interval(job)
    # 调度器启动前任务处于 pending 状态：暂停过的才有 next_run_time（为 None）
    next_run = getattr(job, "next_run_time", None)
    if getattr(job, "next_run_time", True) is None:
        return _state(interval, None, _job_paused(name))
    problem = scheduler_problem()
    if problem is not None:
        return _state(interval, None, problem)
    return _state(interval, next_run.isoformat() if next_run else None, None)


def chart_status(name: str, redrawer: Redrawer | None = None) -> dict[str, Any]:
    """一个图表的状态 JSON（redrawer：调用方已经取到的重绘器，与它列出的图表是同一份配置）。"""
    redrawer = redrawer or known(name)
    spec = redrawer.spec
    image = store.load_image(name)
    failure = store.load_failure(name)
    state = job_state(name)
    interval = state["interval"]
    stale = state["redrawing"] and (
        image is None or (interval is not None and time.time() - image.rendered_at > STALE_INTERVALS * interval)
    )
    return {
        "name": name,
        "title": spec.title,
        "image_url": url_for("livechart.chart_png", name=name),
        "job_id": spec.job_id,
        **state,
        "version": image.version if image else 0,
        "rendered_at": _iso(image.rendered_at) if image else None,
        "render_ms": round(image.render_ms, 2) if image else None,
        "width": spec.width,
        "height": spec.height,
        # 内置类型把标题画在图里（页面不再重复显示）；draw 函数自己决定画不画
        "title_in_image": spec.draw is None,
        "bytes": image.nbytes if image else 0,
        "stale": stale,
        "rendered_by": image.rendered_by if image else None,
        "last_error": None
        if failure is None
        else {"message": failure.message, "at": _iso(failure.at), "consecutive_failures": failure.consecutive},
        # 本进程重绘时发现的数据问题：丢弃的未来行、窗口里超出范围的值（livechart/quality.py）
        "data_warnings": redrawer.quality.report(),
        # 本进程的数据源自己的计数，如 CSV 跳过的格式错误的行（malformed_rows）；没有数据源或没有计数时为空
        "source_stats": redrawer.source.stats() if redrawer.source is not None else {},
    }


def unmodified_since(header: str | None, rendered_at: float) -> bool:
    """If-Modified-Since 是否证明这一版没有变：图片是在那一刻之前（精确到微秒）画的。

    Last-Modified 只精确到秒，同一秒里的两版共用它（docs/pitfalls.md 第 24 条）：客户端发回的正是这一秒时，
    它手里可能是上一版，所以不回答 304，而是由 ETag / If-None-Match 判断。快速路径（livechart/fastpath.py）用同一个判断。
    """
    since = parse_date(header)
    return since is not None and rendered_at < since.timestamp()


def image_for(stem: str) -> tuple[str, Variant]:
    """路径里 .png 之前的部分 → (图表名, 变体)（livechart/variants.py）；未知图表或不认识的变体 → 404。"""
    parsed = variants.parse(stem)
    if parsed is None:
        current = ", ".join(jobs.redrawers())
        abort(404, f"没有图表或变体 {stem!r}；现有的图表：{current}；变体的写法：<chart>[.light|.dark][.narrow][@2x].png")
    chart, variant = parsed
    redrawer = known(chart)
    return chart, variants.normalized(variant, redrawer.spec.theme)


def _png(chart: str, variant: Variant = DEFAULT) -> Response:
    """从缓存返回 PNG；支持 ETag / If-None-Match → 304（If-Modified-Since 只在能证明没变时 304）。"""
    known(chart)
    name = variants.image_id(chart, variant)
    variant_redraw.demand().note(chart, variant)
    stale = False
    # 订阅连着时本进程的副本与 Redis 一致：直接用它（多进程模式；见 coordination 模块说明）
    live = coordination.get().live.is_set()
    image = store.last_known(name) if live else None
    try:
        image = (image or jobs.ensure_image(chart)) if variant.default else jobs.ensure_variant(chart, variant, image)
    except store.Unavailable:
        # 缓存（Redis）不可用：提供本进程内存中的最后一张图，并在响应头里标明它可能已过时
        image, stale = store.last_known(name), True
    # 快速路径生成现成响应的内部子请求不计数（它自己计数真正的请求）
    counted = PREBUILD not in request.environ
    requests = metrics.get().image_requests
    if image is None:
        known(chart)  # 重新载入配置刚删掉了这个图表（请求进行到一半时）：404，而不是“还没有图”
        retry = job_state(chart)["interval"] or 1
        if counted:
            requests.labels(chart, "503").inc()
        return json_error(503, "unavailable", f"图表 {chart!r} 还没有图", {"Retry-After": str(math.ceil(retry))})
    response = Response(image.png, mimetype="image/png")
    response.set_etag(image.etag)
    response.last_modified = datetime.fromtimestamp(image.rendered_at, UTC)
    # no-cache：可以缓存，但每次都要重新验证（ETag），这样永远不会显示旧图
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Livechart-Version"] = str(image.version)
    # 画成的时刻（epoch 毫秒）：Last-Modified 只到秒；页面用它显示“更新于”，并按它对准下一次重绘（static/livechart.js）
    response.headers["X-Livechart-Rendered-At"] = str(round(image.rendered_at * 1000))
    if stale:
        response.headers["X-Livechart-Stale"] = "cache-unavailable"
    environ = request.environ
    if not unmodified_since(environ.get("HTTP_IF_MODIFIED_SINCE"), image.rendered_at):
        # 同一秒内可能有好几版：If-Modified-Since 不能证明客户端有这一版时不用它（只看 ETag）
        environ = {key: value for key, value in environ.items() if key != "HTTP_IF_MODIFIED_SINCE"}
    response.make_conditional(environ)  # 就地改成 304（或保持 200）
    if counted:
        requests.labels(chart, str(response.status_code)).inc()
    return response


def config_status() -> dict[str, Any]:
    """配置文件的状态（没有重新载入器的 app 全为 None）。"""
    reloader = reload.get(current_app)
    if reloader is None:
        return {"config": None, "config_error": None, "config_restart_needed": None}
    return reloader.status()


@bp.get("/")
def index() -> str:
    """页面：每个图表按其任务的实时间隔刷新。"""
    synced()
    charts = [
        {
            "name": name,
            "title": redrawer.spec.title,
            "job_id": redrawer.spec.job_id,
            "src": url_for("livechart.chart_png", name=name),
            "src2x": url_for("livechart.chart_png", name=variants.image_id(name, variants.Variant(scale=2))),
            "width": redrawer.spec.width,
            "height": redrawer.spec.height,
            "title_in_image": redrawer.spec.draw is None,
            **job_state(name),
        }
        for name, redrawer in jobs.redrawers().items()
    ]
    config = current_app.config
    scheduler_url = config["SCHEDULER_API_PREFIX"] if config.get("SCHEDULER_API_ENABLED") else None
    # 过期判定的间隔数交给页面（<body data-stale-intervals>），脚本的提示文字不再另写一遍
    return render_template("index.html", charts=charts, scheduler_url=scheduler_url, intervals=PAGE_INTERVALS,
                           stale_intervals=STALE_INTERVALS, **config_status())  # fmt: skip


@bp.get("/plot.png")
def plot_png() -> Response:
    """默认图表（CHARTS 中的第一个）。"""
    return _png(next(iter(jobs.redrawers())))


@bp.get("/charts/<name>.png")
def chart_png(name: str) -> Response:
    """任意图表的当前 PNG；name 可以带变体后缀（cpu@2x、cpu.dark、cpu.narrow@2x，livechart/variants.py）。"""
    return _png(*image_for(name))


@bp.get("/api/charts")
def charts_status() -> Response:
    """全部图表的状态。"""
    synced()
    return jsonify(
        charts=[chart_status(name, redrawer) for name, redrawer in jobs.redrawers().items()],
        scheduler={"running": scheduler.state == STATE_RUNNING, "state": SCHEDULER_STATES[scheduler.state]},
        # 本进程最近一次看到的缓存状态：满了（写被拒绝）时图表的新图与错误都写不进去，这里要说出来
        cache={"state": store.state()},
        # 配置文件：监视的文件、最近一次重新载入，载入错误（config_error）与需要重启才生效的设置（livechart/reload.py）
        **config_status(),
        now=_iso(time.time()),
    )


@bp.get("/api/charts/<name>")
def chart_status_view(name: str) -> Response:
    """一个图表的状态。"""
    redrawer = known(name)
    synced()
    return jsonify(chart_status(name, redrawer))
