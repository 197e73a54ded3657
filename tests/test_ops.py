"""运维接口：健康与就绪检查、Prometheus 指标、每次渲染一行日志（OpenAPI 文档见 tests/test_openapi.py）。"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest

from livechart import jobs
from livechart import store
from livechart.extensions import cache
from livechart.extensions import scheduler
from livechart.sources import Source
from tests.conftest import wait_for


class Broken(Source):
    """总是失败的数据源。"""

    def fetch(self) -> Any:
        raise OSError("sensor unplugged")


def metric(client: Any, name: str, **labels: str) -> float:
    """从 /metrics 的文本里读出一个样本的值。"""
    text = client.get("/metrics").get_data(as_text=True)
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(selector)}\}} (\S+)$", text, re.M)
    assert match, f"{name}{{{selector}}} not in /metrics"
    return float(match[1])


HEALTHY = {"status": "ok", "scheduler_running": True, "stale": [], "failing": [], "no_job": [], "paused": [], "reasons": []}


def test_healthz_needs_a_running_scheduler(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503  # TestingConfig：调度器暂停
    body = response.get_json()
    assert body == {**HEALTHY, "status": "unhealthy", "scheduler_running": False, "reasons": [body["reasons"][0]]}
    assert "调度器已暂停" in body["reasons"][0] and "POST /scheduler/resume" in body["reasons"][0]
    scheduler.resume()
    assert client.get("/healthz").get_json() == HEALTHY


def test_a_chart_without_a_job_is_unhealthy_and_says_why(client: Any) -> None:
    """删除任务后图表不再重绘：以前状态里只是 paused，/healthz 仍是 ok。"""
    scheduler.resume()
    assert client.delete("/scheduler/jobs/redraw-demo", json={}).status_code == 204
    demo = client.get("/api/charts/demo").get_json()
    assert demo["redrawing"] is False and demo["interval"] is None and demo["stale"] is False
    assert demo["reason"]["code"] == "no_job"
    assert "'redraw-demo' 被删掉了" in demo["reason"]["message"] and "POST /scheduler/jobs" in demo["reason"]["message"]
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503 and body["status"] == "unhealthy"
    assert body["no_job"] == ["demo"] and body["reasons"] == [demo["reason"]["message"]]
    client.post("/scheduler/jobs", json={"id": "redraw-demo", "func": "livechart.jobs:redraw", "kwargs": {"chart": "demo"},
                                         "trigger": "interval", "seconds": 1})  # fmt: skip
    assert client.get("/api/charts/demo").get_json()["reason"] is None
    assert client.get("/healthz").get_json() == HEALTHY


def test_a_job_paused_by_the_user_is_healthy_and_listed(client: Any) -> None:
    scheduler.resume()
    client.post("/scheduler/jobs/redraw-cpu/pause", json={})
    cpu = client.get("/api/charts/cpu").get_json()
    assert cpu["paused"] is True and cpu["redrawing"] is False and cpu["reason"]["code"] == "job_paused"
    assert "POST /scheduler/jobs/redraw-cpu/resume" in cpu["reason"]["message"]
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {**HEALTHY, "paused": ["cpu"]}


def test_every_chart_says_when_the_scheduler_is_paused_or_not_started(client: Any, make_app: Any) -> None:
    body = client.get("/api/charts").get_json()  # TestingConfig：调度器以暂停状态启动
    assert body["scheduler"] == {"running": False, "state": "paused"}
    assert [c["reason"]["code"] for c in body["charts"]] == ["scheduler_paused", "scheduler_paused"]
    assert all(c["paused"] and not c["redrawing"] and c["next_run"] is None for c in body["charts"])
    scheduler.resume()
    body = client.get("/api/charts").get_json()
    assert body["scheduler"] == {"running": True, "state": "running"}
    assert [c["reason"] for c in body["charts"]] == [None, None]
    assert all(c["redrawing"] and c["next_run"] for c in body["charts"])

    from tests.conftest import shutdown_scheduler

    shutdown_scheduler()
    off = make_app("testing", LIVECHART_SCHEDULER="off").test_client()
    body = off.get("/api/charts").get_json()
    assert body["scheduler"] == {"running": False, "state": "stopped"}
    assert [c["reason"]["code"] for c in body["charts"]] == ["scheduler_stopped", "scheduler_stopped"]
    assert "POST /scheduler/start" in off.get("/healthz").get_json()["reasons"][0]


def test_healthz_names_failing_and_stale_charts(app: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    scheduler.resume()
    jobs.redrawers(app)["demo"].source = Broken()
    with app.app_context():
        jobs.redraw("demo")
    body = client.get("/healthz").get_json()
    assert body["status"] == "unhealthy" and body["failing"] == ["demo"]
    # 10 秒后（假时钟）：间隔 2 秒的 cpu 超过 3 个间隔没有新图，是过期的
    later = time.time() + 10
    monkeypatch.setattr("livechart.views.time.time", lambda: later)
    body = client.get("/healthz").get_json()
    assert set(body["stale"]) == {"cpu", "demo"}
    client.post("/scheduler/jobs/redraw-cpu/pause", json={})
    assert client.get("/healthz").get_json()["stale"] == ["demo"]  # 暂停的图表不算过期


def test_readyz(app: Any, client: Any) -> None:
    assert client.get("/readyz").get_json() == {"status": "ready", "missing": []}
    with app.app_context():
        cache.delete(store.image_key("demo"))
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json() == {"status": "not_ready", "missing": ["demo"]}


def test_metrics_count_renders_failures_requests_and_misses(app: Any, client: Any) -> None:
    assert client.get("/metrics").content_type.startswith("text/plain")
    assert metric(client, "livechart_renders_total", chart="demo") == 1  # 预热
    with app.app_context():
        jobs.redraw("demo")
    assert metric(client, "livechart_renders_total", chart="demo") == 2
    assert metric(client, "livechart_render_seconds_count", chart="demo") == 2
    assert metric(client, "livechart_image_bytes", chart="demo") == len(client.get("/charts/demo.png").data)
    etag = client.get("/charts/demo.png").headers["ETag"]
    client.get("/charts/demo.png", headers={"If-None-Match": etag})
    assert metric(client, "livechart_image_requests_total", chart="demo", status="200") == 2
    assert metric(client, "livechart_image_requests_total", chart="demo", status="304") == 1
    with app.app_context():
        cache.delete(store.image_key("demo"))
    client.get("/charts/demo.png")
    assert metric(client, "livechart_cache_misses_total", chart="demo") == 1
    jobs.redrawers(app)["demo"].source = Broken()
    with app.app_context():
        jobs.redraw("demo")
    assert metric(client, "livechart_render_failures_total", chart="demo") == 1


def test_job_lateness_is_observed(client: Any) -> None:
    """启动延迟来自调度器的提交事件：恢复调度器后等一次真实的计划运行。"""
    scheduler.resume()
    wait_for(lambda: metric(client, "livechart_job_lateness_seconds_count", chart="demo") >= 1, 10, "no scheduled run observed")


def test_one_debug_line_per_render_and_none_at_info(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="livechart"), app.app_context():
        jobs.redraw("demo")
    assert [r.getMessage() for r in caplog.records if r.name == "livechart"] == []
    with caplog.at_level(logging.DEBUG, logger="livechart"), app.app_context():
        jobs.redraw("demo")
    lines = [r.getMessage() for r in caplog.records if r.name == "livechart"]
    assert len(lines) == 1
    assert re.fullmatch(r"图表 demo 第 3 版，用时 \d+\.\d ms", lines[0])


@pytest.mark.parametrize("path", ["/scheduler/pause", "/scheduler/resume"])
def test_scheduler_toggles_when_stopped_are_409_not_500(make_app: Any, path: str) -> None:
    client = make_app("testing", LIVECHART_SCHEDULER="off").test_client()
    response = client.post(path, json={})
    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"
