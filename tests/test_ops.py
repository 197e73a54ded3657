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


HEALTHY = {"status": "ok", "scheduler_running": True, "stale": [], "failing": [], "no_job": [], "paused": [], "reasons": []}


def test_healthz_needs_a_running_scheduler(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503  # TestingConfig：调度器暂停
    body = response.get_json()
    assert body == {**HEALTHY, "status": "unhealthy", "scheduler_running": False, "reasons": [body["reasons"][0]]}
    assert "the scheduler is paused" in body["reasons"][0] and "POST /scheduler/resume" in body["reasons"][0]
    scheduler.resume()
    assert client.get("/healthz").get_json() == HEALTHY


def test_a_chart_without_a_job_is_unhealthy_and_says_why(client: Any) -> None:
    """删除任务后图表不再重绘：以前状态里只是 paused，/healthz 仍是 ok。"""
    scheduler.resume()
    assert client.delete("/scheduler/jobs/redraw-demo", json={}).status_code == 204
    demo = client.get("/api/charts/demo").get_json()
    assert demo["redrawing"] is False and demo["interval"] is None and demo["stale"] is False
    assert demo["reason"]["code"] == "no_job"
    assert "'redraw-demo' was deleted" in demo["reason"]["message"] and "POST /scheduler/jobs" in demo["reason"]["message"]
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


def test_openapi_job_bodies_list_every_interval_argument_and_option(client: Any) -> None:
    from livechart.jobspec import INTERVAL_ARGS
    from livechart.jobspec import JOB_KEYS
    from livechart.jobspec import PATCH_KEYS
    from livechart.jobspec import READ_ONLY

    paths = client.get("/openapi.json").get_json()["paths"]
    add = paths["/scheduler/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    # 每个图表一种请求体：id 与 kwargs.chart 是同一个图表
    assert [v["properties"]["id"]["enum"] for v in add["oneOf"]] == [["redraw-cpu"], ["redraw-demo"]]
    for variant in add["oneOf"]:
        assert set(variant["properties"]) == set(JOB_KEYS + INTERVAL_ARGS)
    patch = paths["/scheduler/jobs/{job_id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(patch["properties"]) == set(PATCH_KEYS + INTERVAL_ARGS + READ_ONLY)
    assert {k for k, v in patch["properties"].items() if v.get("readOnly")} == set(READ_ONLY)


def test_openapi_mutating_operations_require_a_json_body(client: Any) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    mutating = [(path, method, op) for path, ops in paths.items() for method, op in ops.items() if method != "get"]
    assert len(mutating) == 10
    for path, method, operation in mutating:
        body = operation["requestBody"]
        assert body["required"] is True and list(body["content"]) == ["application/json"], (method, path)
        assert "415" in operation["responses"], (method, path)


def test_openapi_follows_the_settings(make_app: Any) -> None:
    import config

    slow = [{**job, "seconds": 5} for job in config.Config.JOBS]
    secured = make_app("testing", LIVECHART_API_USER="ops", LIVECHART_API_PASSWORD="s3cret", LIVECHART_MIN_INTERVAL=5, JOBS=slow)
    document = secured.test_client().get("/openapi.json").get_json()
    validate(document)
    assert document["components"]["securitySchemes"] == {"basic": {"type": "http", "scheme": "basic"}}
    assert document["paths"]["/scheduler/jobs"]["get"]["security"] == [{"basic": []}]
    assert "security" not in document["paths"]["/api/charts"]["get"]
    variant = document["paths"]["/scheduler/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert {"required": ["seconds"], "properties": {"seconds": {"minimum": 5}}} in variant["anyOf"]

    from tests.conftest import shutdown_scheduler

    shutdown_scheduler()
    closed = make_app("testing", SCHEDULER_API_ENABLED=False).test_client().get("/openapi.json").get_json()
    assert not [path for path in closed["paths"] if path.startswith("/scheduler")]


@pytest.mark.parametrize("path", ["/scheduler/pause", "/scheduler/resume"])
def test_scheduler_toggles_when_stopped_are_409_not_500(make_app: Any, path: str) -> None:
    client = make_app("testing", LIVECHART_SCHEDULER="off").test_client()
    response = client.post(path, json={})
    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"
