"""加固：/run 回答发生了什么，满了的 Redis 如实报告一次，请求体的边界情况给出说清楚的错误。"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from livechart import jobs
from livechart import store
from tests.conftest import RedisServer
from tests.conftest import own
from tests.conftest import start_server

CREDENTIALS = {"LIVECHART_API_USER": "ops", "LIVECHART_API_PASSWORD": "s3cret"}
AUTH = ("ops", "s3cret")
FLAKY = {
    "title": "flaky",
    "source": {"type": "python", "callable": "tests.flaky_source:reading", "kwargs": {"flag": ""}, "columns": ["value"]},
}


def charts_with_flaky(flag: Path) -> dict[str, Any]:
    from config import Config

    return {**Config.CHARTS, "flaky": {**FLAKY, "source": {**FLAKY["source"], "kwargs": {"flag": str(flag)}}}}


def jobs_with_flaky() -> list[dict[str, Any]]:
    from config import Config

    job = {
        "id": "redraw-flaky",
        "func": "livechart.jobs:redraw",
        "kwargs": {"chart": "flaky"},
        "trigger": "interval",
        "seconds": 5,
    }
    return [*Config.JOBS, job]


def test_run_answers_what_happened(make_app: Any, tmp_path: Path) -> None:
    flag = tmp_path / "fail"
    app = make_app("testing", CHARTS=charts_with_flaky(flag), JOBS=jobs_with_flaky(), LIVECHART_RENDER_TIMEOUT=1)
    client = app.test_client()
    before = client.get("/api/charts/demo").get_json()["version"]
    answer = client.post("/scheduler/jobs/redraw-demo/run", json={})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["id"] == "redraw-demo"
    assert answer.get_json()["run"]["rendered"] is True and answer.get_json()["run"]["version"] == before + 1

    # 数据源失败：424，消息就是状态里的公开消息
    flag.touch()
    failed = client.post("/scheduler/jobs/redraw-flaky/run", json={})
    assert failed.status_code == 424, failed.get_json()
    assert failed.get_json()["message"].startswith("图表 'flaky' 没有重绘成功：数据源 python：RuntimeError")

    # 另一次重绘正占着这个图表：409，而不是假装画好了
    redrawer = jobs.redrawers(app)["demo"]
    with redrawer.lock:
        busy = client.post("/scheduler/jobs/redraw-demo/run", json={})
    assert busy.status_code == 409, busy.get_json()
    assert busy.headers["Retry-After"] == "1"


@pytest.fixture
def full_redis(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_server.port)
    client.config_set("maxmemory-policy", "noeviction")
    yield client
    client.config_set("maxmemory", 0)
    client.close()


def test_a_full_redis_is_reported_once_and_truthfully(
    redis_server: RedisServer, full_redis: redis.Redis, make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_server.url, "LIVECHART_SCHEDULER": "paused", **CREDENTIALS}
    app = make_app("production", **settings)
    client = app.test_client()
    caplog.set_level(logging.WARNING, logger="livechart")
    # maxmemory 低于已用内存：每个写命令都被拒绝（OOM），读照常
    own(app, "demo")
    full_redis.config_set("maxmemory", 1)
    for _ in range(3):
        with app.app_context():
            jobs.redrawers()["demo"].redraw()
        assert client.get("/plot.png").status_code == 200
    status = client.get("/api/charts")
    assert status.status_code == 200 and status.get_json()["cache"] == {"state": "full"}
    health = client.get("/healthz")
    assert (
        health.status_code == 503
        and "缓存（Redis）已满（maxmemory）：新的图片与任务的修改都存不进去" in health.get_json()["reasons"]
    )
    run = client.post("/scheduler/jobs/redraw-demo/run", json={}, auth=AUTH)
    assert run.status_code == 503 and "共享缓存（Redis）已满（maxmemory）" in run.get_json()["message"], run.get_json()
    pause = client.post("/scheduler/jobs/redraw-demo/pause", json={}, auth=AUTH)
    assert pause.status_code == 503 and "共享缓存（Redis）已满（maxmemory）" in pause.get_json()["message"], pause.get_json()
    assert client.get("/scheduler/jobs/redraw-demo", auth=AUTH).get_json()["next_run_time"] is not None  # 没有暂停
    text = caplog.text
    assert text.count("缓存（Redis）已满") == 1, text
    assert "缓存（Redis）不可用" not in text and "缓存（Redis）已恢复" not in text, text

    full_redis.config_set("maxmemory", 0)
    with app.app_context():
        assert jobs.redrawers()["demo"].redraw() is not None
        assert store.state() == "ok"
    assert client.get("/api/charts").get_json()["cache"] == {"state": "ok"}
    assert caplog.text.count("缓存（Redis）又可以写入了") == 1


@pytest.mark.e2e
def test_request_bodies_get_errors_that_say_what_is_wrong(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        big = b'{"a": "' + b"x" * 70_000 + b'"}'

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(big), 4096):
                yield big[start : start + 4096]

        # 分块传输（没有 Content-Length）超过 64 KiB：413，而不是“JSON 无效”
        chunked = requests.post(
            server.url + "/scheduler/jobs", data=chunks(), headers={"Content-Type": "application/json"}, timeout=10
        )
        assert chunked.status_code == 413, chunked.text
        assert chunked.json()["error"] == "request_entity_too_large"
        for body, named in ((b"null", "null"), (b"[]", "数组"), (b'"x"', "字符串")):
            answer = requests.post(
                server.url + "/scheduler/jobs/redraw-demo/pause",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=10,
            )
            assert answer.status_code == 400 and answer.json()["message"] == f"请求体必须是 JSON 对象，收到的类型：{named}"
    finally:
        server.stop()


def test_werkzeug_default_errors_answer_in_chinese_and_livechart_messages_pass_through(client: Any) -> None:
    """Werkzeug 自带的英文默认说明（404、405、413）换成中文；error 代码与 Allow 头不变；livechart 自己写的消息原样返回。"""
    missing = client.get("/no/such/route")
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "not_found", "message": "服务器上没有这个 URL；如果是手动输入的，请检查拼写"}
    # 中文按 UTF-8 原样写出（curl 里读得懂），不是 \\uXXXX 转义
    assert "服务器上没有这个 URL".encode() in missing.data and missing.mimetype == "application/json"
    wrong = client.post("/healthz")
    assert wrong.status_code == 405
    assert wrong.get_json() == {
        "error": "method_not_allowed",
        "message": "这个 URL 不接受该请求方法（可用的方法见响应的 Allow 头）",
    }
    assert set(wrong.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    big = client.post("/scheduler/jobs", data=b"{}" + b" " * 100_000, headers={"Content-Type": "application/json"})
    assert big.status_code == 413
    assert big.get_json() == {"error": "request_entity_too_large", "message": "请求体超过了大小上限"}
    explicit = client.get("/api/charts/demo/data?limit=abc")
    assert explicit.status_code == 400
    assert explicit.get_json() == {"error": "bad_request", "message": "limit='abc' 必须是 0 到 100000 之间的整数"}


def test_the_run_lock_is_released_for_the_next_run(make_app: Any) -> None:
    """409 之后锁仍然是空的：下一次 run 照常画出新的一版。"""
    app = make_app("testing", LIVECHART_RENDER_TIMEOUT=1)
    client = app.test_client()
    redrawer = jobs.redrawers(app)["demo"]
    holder = threading.Thread(target=lambda: redrawer.lock.acquire() and None)
    holder.start()
    holder.join()
    try:
        assert client.post("/scheduler/jobs/redraw-demo/run", json={}).status_code == 409
    finally:
        redrawer.lock.release()
    assert client.post("/scheduler/jobs/redraw-demo/run", json={}).status_code == 200


def test_intervals_are_capped_by_livechart_max_interval(make_app: Any) -> None:
    app = make_app("testing")
    client = app.test_client()
    for body, message in (
        ({"trigger": "interval", "days": 30}, "'days' 最大为 1（LIVECHART_MAX_INTERVAL 是 1 天），收到 30"),
        ({"trigger": "interval", "weeks": 52000}, "'weeks' 最大为 0"),
    ):
        answer = client.patch("/scheduler/jobs/redraw-demo", json=body)
        assert answer.status_code == 400 and message in answer.get_json()["message"], answer.get_json()
    # 每个单位都在上限内、合起来超过：封顶到上限，响应与状态里是生效的间隔
    capped = client.patch("/scheduler/jobs/redraw-demo", json={"trigger": "interval", "hours": 23, "minutes": 120})
    assert capped.status_code == 200 and capped.get_json()["days"] == 1 and "hours" not in capped.get_json()
    assert client.get("/api/charts/demo").get_json()["interval"] == 86400


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {
                "JOBS": [
                    {
                        "id": "redraw-cpu",
                        "func": "livechart.jobs:redraw",
                        "kwargs": {"chart": "cpu"},
                        "trigger": "interval",
                        "seconds": 100_000,
                    }
                ]
            },
            "JOBS['redraw-cpu']：'seconds' 最大为 86400（LIVECHART_MAX_INTERVAL 是 1 天），收到 100000",
        ),
        ({"LIVECHART_MAX_INTERVAL": 0}, "LIVECHART_MAX_INTERVAL 必须是 1 到 31622400（366 天）之间的整数秒数，收到 0"),
        (
            {"LIVECHART_MAX_INTERVAL": 10**12},
            "LIVECHART_MAX_INTERVAL 必须是 1 到 31622400（366 天）之间的整数秒数，收到 1000000000000",
        ),
        (
            {"LIVECHART_MIN_INTERVAL": 60, "LIVECHART_MAX_INTERVAL": 30},
            "LIVECHART_MIN_INTERVAL（60）大于 LIVECHART_MAX_INTERVAL（30）",
        ),
    ],
)
def test_the_interval_cap_is_checked_at_start_up(overrides: dict[str, Any], message: str) -> None:
    from livechart import ConfigError
    from livechart import create_app

    with pytest.raises(ConfigError, match=re.escape(message)):
        create_app("testing", overrides)
