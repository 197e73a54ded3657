"""运维路由：健康检查、就绪检查、Prometheus 指标与 OpenAPI 文档。"""

from __future__ import annotations

from apscheduler.schedulers.base import STATE_RUNNING
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import generate_latest

from livechart import jobs
from livechart import metrics
from livechart import store
from livechart.extensions import scheduler
from livechart.openapi import document
from livechart.views import chart_status

bp = Blueprint("ops", __name__)


def _answer(healthy: bool, body: dict) -> tuple[Response, int]:
    return jsonify(body), 200 if healthy else 503


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """调度器在运行且没有陈旧或失败的图表时为 200，否则 503 并列出图表。"""
    statuses = [chart_status(name) for name in jobs.workers()]
    stale = [s["name"] for s in statuses if s["stale"]]
    failing = [s["name"] for s in statuses if s["last_error"] and s["last_error"]["consecutive_failures"] > 0]
    running = scheduler.state == STATE_RUNNING
    # web 角色本来就不运行任务：它的健康只看图表是否新鲜（由别的进程渲染）
    healthy = (running or current_app.config["LIVECHART_ROLE"] == "web") and not stale and not failing
    body = {"status": "ok" if healthy else "unhealthy", "scheduler_running": running, "stale": stale, "failing": failing}
    return _answer(healthy, body)


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """每个图表都有图片时为 200，否则 503 并列出还没有图片的图表。"""
    missing = [name for name in jobs.workers() if store.load_image(name) is None]
    return _answer(not missing, {"status": "not_ready" if missing else "ready", "missing": missing})


@bp.get("/metrics")
def prometheus() -> Response:
    """Prometheus 文本格式的指标。"""
    return Response(generate_latest(metrics.get().registry), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    content_type=CONTENT_TYPE_LATEST)  # fmt: skip


@bp.get("/openapi.json")
def openapi() -> Response:
    """本服务的 OpenAPI 3 文档。"""
    return jsonify(document(list(jobs.workers())))
