"""滚动窗口存在缓存里：Redis 部署在进程重启后保留历史，内存有界；慢的数据源不阻塞其他图表。"""

from __future__ import annotations

from typing import Any

import config
from livechart import jobs
from livechart import store
from livechart.extensions import scheduler
from tests import slow_source
from tests.conftest import shutdown_scheduler
from tests.conftest import wait_for

CREDENTIALS = {"LIVECHART_API_USER": "ops", "LIVECHART_API_PASSWORD": "s3cret"}
CPU_ONLY = {"cpu": {**config.Config.CHARTS["cpu"], "window": 20}}
CPU_JOB = [config.Config.JOBS[0]]


def test_history_survives_a_restart_on_redis_and_stays_bounded(make_app: Any, redis_url: str) -> None:
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url, "CHARTS": CPU_ONLY, "JOBS": CPU_JOB, **CREDENTIALS}
    first = make_app("production", **settings, LIVECHART_SCHEDULER="paused")
    # 直接调用图表的 worker：jobs.redraw 在 Redis 模式下每个节拍只渲染一次（见 test_production）
    with first.app_context():
        for _ in range(4):
            jobs.workers()["cpu"].redraw()
        before = store.load_history("cpu")
    assert len(before) == 5  # 预热 + 4 次

    # “重启”：另一个 app（同一个 Redis）读回历史并接着追加
    shutdown_scheduler()
    second = make_app("production", **settings, LIVECHART_SCHEDULER="paused", LIVECHART_WARM_CACHE=False)
    with second.app_context():
        jobs.workers()["cpu"].redraw()
        after = store.load_history("cpu")
        assert len(after) == 6
        assert after.index[:5].equals(before.index)
        for _ in range(40):
            jobs.workers()["cpu"].redraw()
        assert len(store.load_history("cpu")) == 20  # 受窗口大小限制
        assert len(jobs.workers()["cpu"].window) == 20


def test_a_slow_source_blocks_neither_start_up_nor_other_charts(make_app: Any) -> None:
    slow_source.RELEASE.clear()
    slow_source.ENTERED.clear()
    charts = {
        "slow": {"title": "慢数据源", "source": {"type": "tests.slow_source:fetch"}, "series": {"v": "v"}},
        "demo": config.Config.CHARTS["demo"],
    }
    job = {"func": "livechart.jobs:redraw", "trigger": "interval", "seconds": 1}
    schedule = [{**job, "id": f"redraw-{name}", "kwargs": {"chart": name}} for name in charts]
    try:
        app = make_app("testing", CHARTS=charts, JOBS=schedule, LIVECHART_SCHEDULER="running", LIVECHART_WARM_TIMEOUT=0.5)
        assert slow_source.ENTERED.wait(10)
        client = app.test_client()
        start = client.get("/api/charts/demo").get_json()["version"]
        assert start >= 1
        wait_for(lambda: client.get("/api/charts/demo").get_json()["version"] >= start + 2, 15, "demo stalled behind slow")
        assert client.get("/api/charts/slow").get_json()["version"] == 0
    finally:
        slow_source.RELEASE.set()
    wait_for(lambda: client.get("/api/charts/slow").get_json()["version"] >= 1, 15, "slow chart never drew")
    scheduler.pause()
