"""图片的快速路径（Redis + 跟随线程）：与 Flask 路径逐字节相同的响应，新图立即可见，计数照常。"""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from werkzeug.http import http_date

from livechart import coordination
from livechart import jobs
from livechart import metrics
from tests.conftest import own
from tests.conftest import wait_for

CREDENTIALS = {"LIVECHART_API_USER": "ops", "LIVECHART_API_PASSWORD": "s3cret"}


@pytest.fixture
def live_app(make_app: Any, redis_url: str) -> Any:
    redis.Redis.from_url(redis_url).flushdb()
    app = make_app("production", CACHE_TYPE="RedisCache", CACHE_REDIS_URL=redis_url, **CREDENTIALS)
    wait_for(lambda: coordination.get(app).live.is_set(), 5, "the follower subscribed")
    # 记录哪些请求进了 Flask：快速路径回答的请求不会经过 before_request
    app.config["SEEN_BY_FLASK"] = []
    app.before_request(lambda: app.config["SEEN_BY_FLASK"].append(1) and None)
    return app


def _answer(app: Any, fast: bool, path: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    app.config["LIVECHART_FAST_PATH"] = fast
    response = app.test_client().open(path, **kwargs)
    return response.status_code, dict(response.headers), response.data


@pytest.mark.parametrize("path", ["/plot.png", "/charts/demo.png", "/charts/cpu.png?t=1732400000000"])
def test_fast_path_answers_exactly_like_flask(live_app: Any, path: str) -> None:
    seen = live_app.config["SEEN_BY_FLASK"]
    _answer(live_app, True, path)  # 第一次：由 Flask 生成这一版的现成响应（两个内部子请求）
    seen.clear()
    slow = _answer(live_app, False, path)
    assert len(seen) == 1
    fast = _answer(live_app, True, path)
    assert len(seen) == 1  # 没有进 Flask
    assert fast == slow and fast[0] == 200
    etag = fast[1]["ETag"]
    assert _answer(live_app, True, path, headers={"If-None-Match": etag}) == _answer(
        live_app, False, path, headers={"If-None-Match": etag}
    )
    assert _answer(live_app, True, path, headers={"If-None-Match": etag})[0] == 304
    head_fast, head_slow = _answer(live_app, True, path, method="HEAD"), _answer(live_app, False, path, method="HEAD")
    assert head_fast == head_slow and head_fast[2] == b""


@pytest.mark.parametrize("path", ["/plot.png", "/charts/demo.png"])
def test_conditional_requests_are_answered_exactly_like_flask(live_app: Any, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """If-Modified-Since 与 If-Match 在两条路径上的回答相同；同一秒里的新版本对 If-Modified-Since 是 200（以前是 304）。"""
    now = time.time()
    monkeypatch.setattr("livechart.store.time.time", lambda: now)  # 两次渲染在同一时刻
    chart = "cpu" if path == "/plot.png" else "demo"
    client = live_app.test_client()
    own(live_app, chart)
    with live_app.app_context():
        jobs.redrawers()[chart].redraw()
        wait_for(lambda: client.get(path).headers["X-Livechart-Version"] == "2", 2, "first image via the follower")
        first = client.get(path)
        record = jobs.redrawers()[chart].redraw()
    wait_for(lambda: client.get(path).headers["ETag"] == f'"{record.etag}"', 2, "second image via the follower")
    cases = [
        {"If-Modified-Since": first.headers["Last-Modified"]},
        {"If-Modified-Since": http_date(now + 2)},
        {"If-Modified-Since": http_date(now - 2)},
        {"If-Modified-Since": "not a date"},
        {"If-Modified-Since": http_date(now + 2), "If-None-Match": first.headers["ETag"]},
        {"If-Modified-Since": http_date(now + 2), "If-None-Match": ""},
        {"If-None-Match": f'"{record.etag}"'},
        {"If-None-Match": "*"},
        {"If-Match": first.headers["ETag"]},
        {"If-Match": f'"{record.etag}"'},
    ]
    statuses = []
    for headers in cases:
        fast, slow = _answer(live_app, True, path, headers=headers), _answer(live_app, False, path, headers=headers)
        assert fast == slow, headers
        statuses.append(fast[0])
    assert statuses == [200, 304, 200, 200, 200, 304, 304, 304, 412, 200]


def test_a_new_image_is_served_at_once_and_requests_are_counted(live_app: Any) -> None:
    client = live_app.test_client()
    first = client.get("/charts/demo.png")
    counter = metrics.get(live_app).image_requests
    before_200 = counter.labels("demo", "200")._value.get()
    before_304 = counter.labels("demo", "304")._value.get()
    own(live_app, "demo")
    with live_app.app_context():
        record = jobs.redrawers()["demo"].redraw(urgent=True)  # 计划运行正占着锁时等它，而不是让出这一次
    # 跟随线程收到通知并读入新记录：之后的请求拿到新图（而不是副本里的旧图）
    wait_for(lambda: client.get("/charts/demo.png").headers["ETag"] == f'"{record.etag}"', 2, "new image via the follower")
    assert first.headers["ETag"] != f'"{record.etag}"'
    assert client.get("/charts/demo.png", headers={"If-None-Match": f'"{record.etag}"'}).status_code == 304
    assert counter.labels("demo", "200")._value.get() > before_200
    assert counter.labels("demo", "304")._value.get() == before_304 + 1


def test_other_requests_still_go_through_flask(live_app: Any) -> None:
    seen = live_app.config["SEEN_BY_FLASK"]
    client = live_app.test_client()
    assert client.get("/charts/nope.png").status_code == 404
    assert client.post("/charts/demo.png").status_code == 405
    assert client.get("/charts/demo.png", headers={"Range": "bytes=0-9"}).status_code == 200  # 不支持范围请求：整张图
    assert len(seen) == 3


def test_no_fast_path_without_a_live_follower(make_app: Any) -> None:
    # 单进程的 SimpleCache：没有跟随线程，每个请求都经过 Flask（缓存未命中时的单次绘制照常）
    app = make_app("testing")
    assert not coordination.get(app).live.is_set()
    seen: list[int] = []
    app.before_request(lambda: seen.append(1) and None)
    assert app.test_client().get("/plot.png").status_code == 200
    assert seen == [1]
