"""任务、缓存记录与路由：在 TestingConfig 下直接调用任务，确定性地驱动。"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pandas as pd
import pytest
from werkzeug.http import http_date

from livechart import jobs
from livechart import store
from livechart.extensions import cache
from livechart.extensions import scheduler
from livechart.redrawer import Redrawer
from livechart.sources import Source

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ExplodingSource(Source):
    """每次采样都失败的数据源。"""

    def fetch(self) -> pd.DataFrame:
        raise RuntimeError("sensor offline at /dev/secret-sensor")


class GatedSource(Source):
    """记录并发进入次数的数据源；可以卡住，直到测试放行。"""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.active = 0
        self.max_active = 0
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.guard = threading.Lock()

    def fetch(self) -> pd.DataFrame:
        with self.guard:
            self.active += 1
            self.calls += 1
            self.max_active = max(self.max_active, self.active)
        self.entered.set()
        try:
            assert self.release.wait(10)
            return self.inner.fetch()
        finally:
            with self.guard:
                self.active -= 1


def redrawer_of(app: Any, name: str = "demo") -> Redrawer:
    """应用里某个图表的 Redrawer。"""
    return jobs.redrawers(app)[name]


def test_cache_is_warmed_at_start(app: Any) -> None:
    with app.app_context():
        for name in ("cpu", "demo"):
            record = store.load_image(name)
            assert record is not None and record.version == 1
            assert record.png.startswith(PNG_MAGIC)


def test_redraw_runs_in_app_context_from_a_plain_thread(app: Any) -> None:
    """调度器线程没有 app 上下文：redraw 必须自己进入（docs/pitfalls.md 第 2 条）。"""
    thread = threading.Thread(target=jobs.redraw, args=("demo",))
    thread.start()
    thread.join(30)
    with app.app_context():
        assert store.load_image("demo").version == 2


def test_record_is_complete_and_versions_increase(app: Any) -> None:
    with app.app_context():
        before = store.load_image("demo")
        jobs.redraw("demo")
        after = store.load_image("demo")
    assert after.version == before.version + 1
    assert after.etag != before.etag
    assert after.rendered_at >= before.rendered_at
    assert after.render_ms > 0
    assert (after.width, after.height) == (800, 400)
    assert after.nbytes == len(after.png)


def test_records_never_expire(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """记录的超时为 0：十天后（假时钟）仍在缓存中。"""
    import cachelib.simple

    later = time.time() + 10 * 86400
    monkeypatch.setattr(cachelib.simple, "time", lambda: later)
    with app.app_context():
        assert store.load_image("demo") is not None


def test_failing_source_keeps_last_image_and_records_error(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    good = redrawer_of(app).source
    with app.app_context():
        last_good = store.load_image("demo")
        redrawer_of(app).source = ExplodingSource()
        with caplog.at_level(logging.ERROR):
            jobs.redraw("demo")
            jobs.redraw("demo")
        assert store.load_image("demo") == last_good
        failure = store.load_failure("demo")
        assert failure.consecutive == 2
        assert "RuntimeError: sensor offline" in failure.message
        # 完整堆栈进日志
        assert any(r.exc_info and "sensor offline" in str(r.exc_info[1]) for r in caplog.records)
        redrawer_of(app).source = good
        jobs.redraw("demo")
        assert store.load_image("demo").version == last_good.version + 1
        assert store.load_failure("demo").consecutive == 0


def test_failure_is_reported_but_never_as_traceback(app: Any, client: Any) -> None:
    redrawer_of(app).source = ExplodingSource()
    with app.app_context():
        jobs.redraw("demo")
    body = client.get("/api/charts/demo").get_json()
    assert body["last_error"]["consecutive_failures"] == 1
    assert "Traceback" not in str(body)
    image = client.get("/charts/demo.png")
    assert image.status_code == 200  # 仍然提供上一张好图


def test_redraws_of_one_chart_never_overlap(app: Any) -> None:
    """计划运行与 /run 同时发生时也要串行（docs/pitfalls.md 第 5 条）。"""
    gated = GatedSource(redrawer_of(app).source)
    redrawer_of(app).source = gated
    gated.release.clear()
    first = threading.Thread(target=jobs.redraw, args=("demo",))
    first.start()
    assert gated.entered.wait(10)
    gated.entered.clear()
    second = threading.Thread(target=jobs.redraw, args=("demo",))
    second.start()
    # 第一次还卡在数据源里：第二次必须在锁上等待，而不是进入数据源
    assert not gated.entered.wait(0.3)
    assert redrawer_of(app).lock.locked()
    gated.release.set()
    first.join(30)
    second.join(30)
    assert gated.calls == 2 and gated.max_active == 1
    threads = [threading.Thread(target=jobs.redraw, args=("demo",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert gated.max_active == 1
    with app.app_context():
        # 每次进入数据源的重绘都写了一版（等锁超过耐心的计划运行让出节拍，机器忙时可能有，那不是重叠）
        assert store.load_image("demo").version == 1 + gated.calls


def test_run_endpoint_and_scheduled_run_are_serialized(app: Any, client: Any) -> None:
    gated = GatedSource(redrawer_of(app).source)
    redrawer_of(app).source = gated
    runs = [threading.Thread(target=lambda: client.post("/scheduler/jobs/redraw-demo/run", json={})) for _ in range(3)]
    runs.append(threading.Thread(target=jobs.redraw, args=("demo",)))
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(30)
    # 三次 /run 都等到期限、各画一次；计划运行等锁超过它的耐心（下一个节拍之前）时让出这个节拍——机器忙时会有，不算重叠
    assert gated.max_active == 1 and gated.calls in (3, 4)


@pytest.mark.parametrize("path", ["/plot.png", "/charts/cpu.png", "/charts/demo.png"])
def test_image_routes(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(PNG_MAGIC)
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["ETag"]
    assert response.headers["Last-Modified"]
    assert response.headers["X-Livechart-Version"] == "1"


def test_plot_png_is_the_first_chart(client: Any) -> None:
    assert client.get("/plot.png").data == client.get("/charts/cpu.png").data


def test_if_none_match_gives_304_until_a_new_image(app: Any, client: Any) -> None:
    first = client.get("/charts/demo.png")
    etag = first.headers["ETag"]
    cached = client.get("/charts/demo.png", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.data == b""
    with app.app_context():
        jobs.redraw("demo")
    fresh = client.get("/charts/demo.png", headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] != etag


def test_if_modified_since_never_hides_a_newer_version_of_the_same_second(
    app: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Last-Modified 只精确到秒（docs/pitfalls.md 第 24 条）：以前同一秒里的第二版对 If-Modified-Since 回答 304。"""
    now = time.time()
    monkeypatch.setattr("livechart.store.time.time", lambda: now)  # 两次渲染在同一时刻
    with app.app_context():
        jobs.redraw("demo")
        first = client.get("/charts/demo.png")
        jobs.redraw("demo")
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    second = client.get("/charts/demo.png", headers=since)
    assert second.status_code == 200 and second.headers["ETag"] != first.headers["ETag"]
    # 不能证明客户端有这一版时总是 200，即使这一版就是客户端手里的那一版
    assert client.get("/charts/demo.png", headers={"If-Modified-Since": second.headers["Last-Modified"]}).status_code == 200
    # 晚于这一版的时刻：证明没变，304
    later = {"If-Modified-Since": http_date(now + 2)}
    assert client.get("/charts/demo.png", headers=later).status_code == 304
    # 有 If-None-Match 时只看 ETag
    stale_etag = {**later, "If-None-Match": first.headers["ETag"]}
    assert client.get("/charts/demo.png", headers=stale_etag).status_code == 200


def test_timestamp_query_is_ignored(client: Any) -> None:
    assert client.get("/charts/demo.png?t=1700000000000").data == client.get("/charts/demo.png").data


@pytest.mark.parametrize("path", ["/charts/nope.png", "/api/charts/nope"])
def test_unknown_chart_is_404_json(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json() == {"error": "not_found", "message": "没有图表 'nope'；现有的图表：cpu, demo"}


def test_unknown_route_is_404_json(client: Any) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_cache_miss_renders_once_for_all_concurrent_requests(app: Any) -> None:
    """单飞：缓存未命中时，并发请求只触发一次绘制。"""
    gated = GatedSource(redrawer_of(app).source)
    redrawer_of(app).source = gated
    with app.app_context():
        cache.clear()
    gated.release.clear()
    results: list[Any] = []

    def fetch() -> None:
        results.append(app.test_client().get("/charts/demo.png"))

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert gated.entered.wait(10)
    gated.release.set()
    for thread in threads:
        thread.join(30)
    assert [r.status_code for r in results] == [200] * 8
    assert len({r.data for r in results}) == 1
    assert gated.calls == 1


def test_no_image_and_failing_source_is_503_with_retry_after(app: Any, client: Any) -> None:
    redrawer_of(app).source = ExplodingSource()
    with app.app_context():
        cache.clear()
    response = client.get("/charts/demo.png")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json()["error"] == "unavailable"
    assert "sensor" not in response.get_data(as_text=True)


def test_status_api(client: Any) -> None:
    body = client.get("/api/charts").get_json()
    assert [c["name"] for c in body["charts"]] == ["cpu", "demo"]
    demo = client.get("/api/charts/demo").get_json()
    assert demo["job_id"] == "redraw-demo"
    assert demo["interval"] == 1
    assert demo["image_url"] == "/charts/demo.png"
    assert demo["version"] == 1
    assert demo["bytes"] > 1000
    assert demo["last_error"] is None
    assert demo["stale"] is False
    # TestingConfig 的调度器处于暂停状态：任务不会自动运行
    assert demo["paused"] is True
    assert body["scheduler"]["running"] is False


def test_status_follows_the_live_job(client: Any) -> None:
    scheduler.resume()
    assert client.get("/api/charts/demo").get_json()["paused"] is False
    client.patch("/scheduler/jobs/redraw-demo", json={"trigger": "interval", "seconds": 7})
    assert client.get("/api/charts/demo").get_json()["interval"] == 7
    client.post("/scheduler/jobs/redraw-demo/pause", json={})
    status = client.get("/api/charts/demo").get_json()
    assert status["paused"] is True and status["next_run"] is None


def test_page_lists_every_chart_with_its_live_interval(client: Any) -> None:
    client.patch("/scheduler/jobs/redraw-cpu", json={"trigger": "interval", "seconds": 5})
    page = client.get("/").get_data(as_text=True)
    assert 'data-name="cpu"' in page and 'data-src="/charts/cpu.png"' in page and 'data-interval="5.0"' in page
    assert 'data-name="demo"' in page and 'data-interval="1.0"' in page
    assert "本机 CPU 与内存使用率" in page
    assert "/static/livechart.js" in page and "/static/livechart.css" in page


def test_static_script_refreshes_with_timestamp(client: Any) -> None:
    with client.get("/static/livechart.js") as response:
        script = response.get_data(as_text=True)
    # 页面的约定：setInterval 与 ?t=<时刻>；只取新的一版（If-None-Match），解码好再替换（new Image()）
    assert "setInterval" in script and "?t=${Math.round(expected)}" in script and "new Image()" in script
    assert "If-None-Match" in script and "visibilitychange" in script


def test_requests_for_a_chart_whose_input_is_missing_do_not_each_fetch_again(make_app: Any, tmp_path: Any) -> None:
    """输入还不在、还没有图：请求不在请求线程里一次次重取（那是调度任务的事），而是回答 503。"""
    charts = {
        "log": {
            "title": "log",
            "source": {"type": "csv", "path": str(tmp_path / "later.csv"), "time": "t", "columns": ["v"]},
        }
    }
    job = {"id": "redraw-log", "func": "livechart.jobs:redraw", "kwargs": {"chart": "log"}, "trigger": "interval", "seconds": 60}
    app = make_app("testing", CHARTS=charts, JOBS=[job])
    client = app.test_client()
    answers = [client.get("/charts/log.png") for _ in range(10)]
    assert all(answer.status_code == 503 for answer in answers)
    status = client.get("/api/charts/log").get_json()
    # 只有启动时的预热取过一次数
    assert status["last_error"]["consecutive_failures"] == 1, status
    assert "later.csv" in status["last_error"]["message"]
