"""运维接口：健康与就绪检查、Prometheus 指标、每次渲染一行日志、OpenAPI 文档。"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
from openapi_spec_validator import validate

from livechart import jobs
from livechart import store
from livechart.extensions import cache
from livechart.extensions import scheduler
from livechart.sources import Source


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


def test_healthz_needs_a_running_scheduler(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503  # TestingConfig：调度器暂停
    assert response.get_json() == {"status": "unhealthy", "scheduler_running": False, "stale": [], "failing": []}
    scheduler.resume()
    assert client.get("/healthz").get_json() == {"status": "ok", "scheduler_running": True, "stale": [], "failing": []}


def test_healthz_names_failing_and_stale_charts(app: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    scheduler.resume()
    jobs.workers(app)["demo"].source = Broken()
    with app.app_context():
        jobs.redraw("demo")
    body = client.get("/healthz").get_json()
    assert body["status"] == "unhealthy" and body["failing"] == ["demo"]
    # 10 秒后（假时钟）：间隔 2 秒的 cpu 超过 3 个间隔没有新图，是陈旧的
    later = time.time() + 10
    monkeypatch.setattr("livechart.views.time.time", lambda: later)
    body = client.get("/healthz").get_json()
    assert set(body["stale"]) == {"cpu", "demo"}
    client.post("/scheduler/jobs/redraw-cpu/pause", json={})
    assert client.get("/healthz").get_json()["stale"] == ["demo"]  # 暂停的图表不算陈旧


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
    jobs.workers(app)["demo"].source = Broken()
    with app.app_context():
        jobs.redraw("demo")
    assert metric(client, "livechart_render_failures_total", chart="demo") == 1


def test_job_lateness_is_observed(client: Any) -> None:
    """启动延迟来自调度器的提交事件：恢复调度器后等一次真实的计划运行。"""
    scheduler.resume()
    deadline = time.monotonic() + 10
    while metric(client, "livechart_job_lateness_seconds_count", chart="demo") < 1:
        assert time.monotonic() < deadline, "no scheduled run observed"
        time.sleep(0.05)


def test_one_debug_line_per_render_and_none_at_info(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="livechart"), app.app_context():
        jobs.redraw("demo")
    assert [r.getMessage() for r in caplog.records if r.name == "livechart"] == []
    with caplog.at_level(logging.DEBUG, logger="livechart"), app.app_context():
        jobs.redraw("demo")
    lines = [r.getMessage() for r in caplog.records if r.name == "livechart"]
    assert len(lines) == 1
    assert re.fullmatch(r"图表 demo 第 3 版，用时 \d+\.\d ms", lines[0])


# --- OpenAPI ---


def test_openapi_document_is_valid(client: Any) -> None:
    document = client.get("/openapi.json").get_json()
    validate(document)


def test_openapi_documents_every_route_and_method(app: Any, client: Any) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in paths, f"{path} is not documented"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], f"{method} {path} is not documented"


def test_openapi_job_body_lists_every_interval_argument(client: Any) -> None:
    from livechart.spec import INTERVAL_ARGS

    schema = client.get("/openapi.json").get_json()["paths"]["/scheduler/jobs"]["post"]["requestBody"]["content"]
    assert set(INTERVAL_ARGS) <= set(schema["application/json"]["schema"]["properties"])


@pytest.mark.parametrize(("path", "state"), [("/scheduler/pause", "paused"), ("/scheduler/resume", "running")])
def test_scheduler_toggles_when_stopped_are_409_not_500(client: Any, path: str, state: str) -> None:
    client.post("/scheduler/shutdown", json={"wait": False})
    response = client.post(path, json={})
    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"


def test_flask_apscheduler_errors_use_the_livechart_format(client: Any) -> None:
    response = client.post("/scheduler/start", json={})  # 已在运行（暂停状态）
    assert response.status_code == 400
    assert response.get_json() == {"error": "bad_request", "message": "Scheduler is already running"}
