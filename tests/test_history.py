"""滚动窗口存在缓存里：Redis 部署在进程重启后保留历史，内存有界；慢的数据源不阻塞其他图表。"""

from __future__ import annotations

import logging
import pickle
from typing import Any

import pandas as pd
import pytest
import redis

import config
from livechart import coordination
from livechart import history
from livechart import jobs
from livechart import keys
from livechart import store
from livechart.extensions import scheduler
from tests import slow_source
from tests.conftest import RedisServer
from tests.conftest import own
from tests.conftest import shutdown_scheduler
from tests.conftest import wait_for

CREDENTIALS = {"LIVECHART_API_USER": "ops", "LIVECHART_API_PASSWORD": "s3cret"}
CPU_ONLY = {"cpu": {**config.Config.CHARTS["cpu"], "window": 20}}
CPU_JOB = [config.Config.JOBS[0]]


def test_history_survives_a_restart_on_redis_and_stays_bounded(make_app: Any, redis_url: str) -> None:
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url, "CHARTS": CPU_ONLY, "JOBS": CPU_JOB, **CREDENTIALS}
    first = make_app("production", **settings, LIVECHART_SCHEDULER="paused")
    own(first, "cpu")
    # 直接调用图表的 Redrawer：jobs.redraw 在 Redis 模式下每个节拍只渲染一次（见 test_production）
    with first.app_context():
        for _ in range(4):
            jobs.redrawers()["cpu"].redraw()
        before = history.load("cpu")
    assert len(before) == 5  # 预热 + 4 次

    # “重启”：另一个 app（同一个 Redis）读回历史并接着追加
    shutdown_scheduler()
    second = make_app("production", **settings, LIVECHART_SCHEDULER="paused", LIVECHART_WARM_CACHE=False)
    own(second, "cpu")
    with second.app_context():
        jobs.redrawers()["cpu"].redraw()
        after = history.load("cpu")
        assert len(after) == 6
        assert after.index[:5].equals(before.index)
        for _ in range(40):
            jobs.redrawers()["cpu"].redraw()
        assert len(history.load("cpu")) == 20  # 受窗口大小限制
        assert len(jobs.redrawers()["cpu"].window) == 20


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
        # demo 在 slow 卡住的时候照样画出来（预热只等 0.5 秒：忙的机器上它的第一张图可能在预热之后才画完）
        start = wait_for(lambda: client.get("/api/charts/demo").get_json()["version"], 10, "demo not drawn while slow hangs")
        wait_for(lambda: client.get("/api/charts/demo").get_json()["version"] >= start + 2, 15, "demo stalled behind slow")
        assert client.get("/api/charts/slow").get_json()["version"] == 0
    finally:
        slow_source.RELEASE.set()
    wait_for(lambda: client.get("/api/charts/slow").get_json()["version"] >= 1, 15, "slow chart never drew")
    scheduler.pause()


def _interval(app: Any, chart: str) -> float:
    with app.app_context():
        return scheduler.get_job(f"redraw-{chart}").trigger.interval.total_seconds()


def _cpu_job(seconds: float) -> list[dict[str, Any]]:
    return [{**CPU_JOB[0], "seconds": seconds}]


def stop(app: Any) -> None:
    """进程退出：停止协调线程（交出图表、退出成员）与调度器。"""
    coordination.stop(app)
    shutdown_scheduler()


def test_the_config_file_wins_when_it_changes_a_job_a_runtime_pause_stays(
    redis_server: RedisServer, make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """以前：PATCH 成 4 秒、重启、把 config.py 改成 7 秒、再重启，还是 4 秒，日志里什么也没有。"""
    caplog.set_level(logging.INFO, logger="livechart")
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_server.url, "CHARTS": CPU_ONLY, **CREDENTIALS}
    first = make_app("production", **settings, JOBS=_cpu_job(2), LIVECHART_WARM_CACHE=False)
    client = first.test_client()
    assert client.patch("/scheduler/jobs/redraw-cpu", json={"seconds": 4}, auth=("ops", "s3cret")).status_code == 200

    # 重启、文件没改：运行时的修改仍然有效，启动日志说明间隔来自运行时的修改
    stop(first)
    caplog.clear()
    second = make_app("production", **settings, JOBS=_cpu_job(2), LIVECHART_WARM_CACHE=False)
    assert _interval(second, "cpu") == 4
    assert "redraw-cpu 每 4 秒（运行时修改于 " in caplog.text, caplog.text
    assert second.test_client().post("/scheduler/jobs/redraw-cpu/pause", json={}, auth=("ops", "s3cret")).status_code == 200

    # 重启、文件改成 7 秒：以文件为准，日志说明作废了哪个修改；暂停是运行时状态，保留
    stop(second)
    caplog.clear()
    third = make_app("production", **settings, JOBS=_cpu_job(7), LIVECHART_WARM_CACHE=False)
    assert _interval(third, "cpu") == 7
    assert "的配置文件与本进程的不同" not in caplog.text  # 退出了的进程不算
    assert "以配置文件为准" in caplog.text and "'seconds': 4.0" in caplog.text, caplog.text
    assert "redraw-cpu 每 7 秒（配置文件，已暂停）" in caplog.text
    with third.app_context():
        assert scheduler.get_job("redraw-cpu").next_run_time is None

    # 之后再在运行时修改：它有效，直到文件再改这个任务
    third.test_client().patch("/scheduler/jobs/redraw-cpu", json={"seconds": 5}, auth=("ops", "s3cret"))
    stop(third)
    fourth = make_app("production", **settings, JOBS=_cpu_job(7), LIVECHART_WARM_CACHE=False)
    assert _interval(fourth, "cpu") == 5


def test_a_tick_writes_redis_work_in_proportion_to_the_new_rows(redis_server: RedisServer, make_app: Any) -> None:
    """以前：每个节拍把整个窗口（最多 100 000 行）pickle 之后写进 Redis。"""
    charts = {"cpu": {**config.Config.CHARTS["cpu"], "window": 20_000}}
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_server.url, "CHARTS": charts, "JOBS": CPU_JOB, **CREDENTIALS}
    app = make_app("production", **settings, LIVECHART_SCHEDULER="paused", LIVECHART_WARM_CACHE=False)
    client = redis.Redis.from_url(redis_server.url)
    now = pd.Timestamp.now()
    window = pd.DataFrame(
        {"cpu": range(10_000), "memory": range(10_000)},
        index=pd.date_range(end=now - pd.Timedelta(seconds=5), periods=10_000, freq="s"),
    )
    own(app, "cpu")
    with app.app_context():
        history.get().append("cpu", window.astype(float), 20_000, None)
        redrawer = jobs.redrawers()["cpu"]
        redrawer.redraw()  # 读回窗口（一次）
        before = client.info("stats")["total_net_input_bytes"]
        for _ in range(5):
            redrawer.redraw()
        written = (client.info("stats")["total_net_input_bytes"] - before) / 5
        assert len(history.load("cpu")) == 10_006
    # 一个节拍：一行新数据、一张几十 KB 的 PNG（写两次：图片记录与新图通知之外没有别的大东西）；
    # 整个窗口 pickle 之后有 160 KB 以上
    with app.app_context():
        png = store.load_image("cpu").nbytes
    assert written < png + 4_000, (written, png)


def test_an_upgrade_imports_the_previous_layouts_history_once(redis_server: RedisServer, make_app: Any) -> None:
    """Redis 的布局带版本（livechart/keys.py）：新版本不读旧版本的图片记录，旧的滚动窗口导入一次。"""
    settings = {
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": redis_server.url,
        "CHARTS": CPU_ONLY,
        "JOBS": CPU_JOB,
        **CREDENTIALS,
    }
    client = redis.Redis.from_url(redis_server.url)
    now = pd.Timestamp.now()
    old = pd.DataFrame(
        {"cpu": [1.0, 2.0, 3.0]}, index=pd.DatetimeIndex([now - pd.Timedelta(seconds=s) for s in (30, 20, 10)], name="time")
    )
    client.set("livechart:" + keys.legacy_history("cpu"), b"!" + pickle.dumps(old))  # Flask-Caching 的 RedisCache 的格式
    client.set("livechart:chart:cpu:image", b"!" + pickle.dumps("an old record this version must not read"))
    app = make_app("production", **settings, LIVECHART_SCHEDULER="paused")
    own(app, "cpu")
    with app.app_context():
        window = history.load("cpu")
        assert window["cpu"].tolist()[:3] == [1.0, 2.0, 3.0] and len(window) == 4
        jobs.redrawers()["cpu"].loaded = False  # 再读一次：不会再导入
        jobs.redrawers()["cpu"].redraw()
        assert len(history.load("cpu")) == 5
    status = app.test_client().get("/api/charts/cpu").get_json()
    assert status["version"] == 2 and status["last_error"] is None


def test_an_owner_rewrites_the_window_when_redis_comes_back_empty(redis_server: RedisServer, make_app: Any) -> None:
    """Redis 重启时是空的（或从较旧的快照恢复）：所有者手里的窗口最完整，整个写回去，一行也不丢。"""
    settings = {
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": redis_server.url,
        "CHARTS": CPU_ONLY,
        "JOBS": CPU_JOB,
        **CREDENTIALS,
    }
    app = make_app("production", **settings, LIVECHART_SCHEDULER="paused")
    own(app, "cpu")
    with app.app_context():
        for _ in range(3):
            jobs.redrawers()["cpu"].redraw()
        before = history.load("cpu")
    assert len(before) == 4
    redis.Redis.from_url(redis_server.url).flushall()
    own(app, "cpu")
    with app.app_context():
        jobs.redrawers()["cpu"].redraw()
        after = history.load("cpu")
    assert len(after) == 5 and after.index[:4].equals(before.index)


def test_rows_that_arrive_after_the_chart_changed_owner_are_not_written(
    redis_server: RedisServer, make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """卡住过的前所有者的取数终于返回时，租约已在别的进程手里：这些行不进共享窗口，它也不画（两个主机的行不会交错）。"""
    settings = {
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": redis_server.url,
        "CHARTS": CPU_ONLY,
        "JOBS": CPU_JOB,
        **CREDENTIALS,
    }
    app = make_app("production", **settings, LIVECHART_SCHEDULER="paused")
    own(app, "cpu")
    with app.app_context():
        jobs.redrawers()["cpu"].redraw()
        rows, version = len(history.load("cpu")), store.load_image("cpu").version
    redis.Redis.from_url(redis_server.url).set("livechart:" + keys.lease("cpu"), "another-host:1:abc", px=60_000)
    caplog.set_level(logging.INFO, logger="livechart")
    with app.app_context():
        jobs.redrawers()["cpu"].redraw()
        assert len(history.load("cpu")) == rows and store.load_image("cpu").version == version
    assert "已由别的进程接手：丢弃本进程迟到的取数结果" in caplog.text
