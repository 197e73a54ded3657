"""运维路由：健康检查、就绪检查、Prometheus 指标与 OpenAPI 文档。"""

from __future__ import annotations

from apscheduler.schedulers.base import STATE_RUNNING
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from livechart import jobs
from livechart import metrics
from livechart import store
from livechart.extensions import scheduler
from livechart.jobspec import IntervalLimits
from livechart.openapi import document
from livechart.views import STALE_INTERVALS
from livechart.views import chart_status
from livechart.views import scheduler_problem
from livechart.views import synced

bp = Blueprint("ops", __name__)


def _answer(healthy: bool, body: dict) -> tuple[Response, int]:
    return jsonify(body), 200 if healthy else 503


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """健康时 200，否则 503；reasons 逐条说明为什么不健康。

    不健康：调度器暂停或没有启动（本进程什么都不重绘）、图表没有任务（被删除）、过期、连续失败。
    用户暂停的单个任务是有意的，不算不健康，列在 paused 里。web 角色本来就不运行任务：只看图表本身。
    """
    synced()
    statuses = [chart_status(name, redrawer) for name, redrawer in jobs.redrawers().items()]
    stale = [s["name"] for s in statuses if s["stale"]]
    failing = [s["name"] for s in statuses if s["last_error"] and s["last_error"]["consecutive_failures"] > 0]
    codes = {s["name"]: (s["reason"] or {}).get("code") for s in statuses}
    no_job = [name for name, code in codes.items() if code == "no_job"]
    paused = [name for name, code in codes.items() if code == "job_paused"]
    running = scheduler.state == STATE_RUNNING
    reasons = []
    problem = None if current_app.config["LIVECHART_ROLE"] == "web" else scheduler_problem()
    if problem is not None:
        reasons.append(problem["message"])
    if store.state() == "full":
        reasons.append("the cache (Redis) is full (maxmemory): new images and job changes cannot be stored")
    reasons += [s["reason"]["message"] for s in statuses if s["name"] in no_job]
    reasons += [f"chart {name!r} is stale: no new image for more than {STALE_INTERVALS} intervals" for name in stale]
    reasons += [f"chart {name!r} is failing: see last_error in /api/charts/{name}" for name in failing]
    body = {
        "status": "unhealthy" if reasons else "ok",
        "scheduler_running": running,
        "stale": stale,
        "failing": failing,
        "no_job": no_job,
        "paused": paused,
        "reasons": reasons,
    }
    return _answer(not reasons, body)


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """每个图表都有图片时为 200，否则 503 并列出还没有图片的图表。"""
    missing = [name for name in jobs.redrawers() if store.load_image(name) is None]
    return _answer(not missing, {"status": "not_ready" if missing else "ready", "missing": missing})


@bp.get("/metrics")
def prometheus() -> Response:
    """Prometheus 文本格式的指标；gunicorn 下是整个服务器（所有工作进程）的合计（docs/pitfalls.md 第 29 条）。"""
    return Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    content_type=CONTENT_TYPE_LATEST)  # fmt: skip


@bp.get("/openapi.json")
def openapi() -> Response:
    """本服务的 OpenAPI 3 文档：按本进程的设置写明接受什么（有没有 /scheduler、是否要凭据、最小间隔）。"""
    config = current_app.config
    return jsonify(
        document(
            list(jobs.redrawers()),
            limits=IntervalLimits.of(config),
            scheduler_api=bool(config.get("SCHEDULER_API_ENABLED")),
            auth=bool(config.get("LIVECHART_API_USER")),
        )
    )
