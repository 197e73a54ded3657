"""一个服务，不管有几个进程：真实的 redis-server 与真实的 gunicorn（make run-prod 同样的命令）。

每个图表一个所有者（租约），共享的完整窗口，一条修改路径（PATCH 的回答就是之后任何进程上 GET 的结果），
整个服务的暂停，所有者被 kill -9 或卡住之后的交接。
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from livechart import keys
from tests.conftest import ROOT
from tests.conftest import RedisServer
from tests.conftest import wait_for
from tests.test_production import AUTH
from tests.test_production import Gunicorn
from tests.test_production import start_gunicorn

# 三个 gunicorn 工作进程、按节拍计数与所有权的断言：make test 把这个文件放在并行的部分之后单独跑（Makefile）
pytestmark = pytest.mark.serial

SERVICE = "tests.e2e_config:ServiceE2EConfig"


def _env(redis_server: RedisServer, folder: Path, config: str = SERVICE, **extra: str) -> dict[str, str]:
    stall = folder / "stall"
    stall.mkdir(exist_ok=True)
    return {"LIVECHART_REDIS_URL": redis_server.url, "LIVECHART_CONFIG": config, "LIVECHART_TEST_STALL_DIR": str(stall), **extra}


@dataclass
class Hosts:
    """三个 gunicorn（各一个工作进程，如同三台主机）共用一个 Redis；stall 目录里的 stall-<pid> 让那个进程的取数卡住。"""

    servers: list[Gunicorn]
    redis: RedisServer
    stall: Path


def _redis(folder: Path) -> RedisServer:
    server = RedisServer(folder)
    server.start()
    return server


# 服务用的配置模块（在临时目录里，重新载入的测试改写它）：先与 ServiceE2EConfig 相同
SERVICE_MODULE = "service_config"
SERVICE_CONFIG = """from tests.e2e_config import ServiceE2EConfig


class Config(ServiceE2EConfig):
    pass
"""
# 保存后的样子：demo 的间隔改成 2 秒，多一个每秒重绘的图表 extra
SERVICE_CONFIG_SAVED = """from tests.e2e_config import ServiceE2EConfig
from tests.e2e_config import _job


class Config(ServiceE2EConfig):
    CHARTS = {**ServiceE2EConfig.CHARTS, "extra": {"title": "extra", "size": [320, 160], "source": {"type": "demo"}}}
    JOBS = [{**job, "seconds": 2} if job["id"] == "redraw-demo" else job for job in ServiceE2EConfig.JOBS] + [_job("extra")]
"""


@dataclass
class Service:
    """make run-prod 的样子：一个 gunicorn、三个工作进程；配置来自临时目录里的模块。"""

    server: Gunicorn
    config: Path

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """一个 gunicorn，三个工作进程（make run-prod 的样子），整个模块共用（测试按顺序改它的状态：先暂停 stall，
    再改 demo 的间隔，再暂停、恢复整个服务，最后改配置文件、kill -HUP）。"""
    folder = tmp_path_factory.mktemp("service")
    modules = folder / "modules"
    modules.mkdir()
    config = modules / f"{SERVICE_MODULE}.py"
    config.write_text(SERVICE_CONFIG)
    redis_server = _redis(folder)
    # 这里数所有权换了几次、交接用了几秒：在 2 核的机器上，3 个工作进程各自启动绘制进程（导入 Matplotlib 与 pandas）
    # 的那几秒 CPU 不够，所有者会多换一两次（行一行也不丢）。绘制进程下的协调由 test_production 的集群测试检查
    env = _env(redis_server, folder, f"{SERVICE_MODULE}:Config", WEB_CONCURRENCY="3", PYTHONPATH=f"{ROOT}:{modules}",
               LIVECHART_RENDER_PROCESSES="0")  # fmt: skip
    server = start_gunicorn(folder, "svc", env)
    try:
        yield Service(server, config)
    finally:
        server.stop(signal.SIGKILL if server.process.poll() is None else signal.SIGTERM)
        redis_server.stop()


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    """三台“主机”，整个模块共用（测试按顺序：先 /run，再 kill -9 一个所有者，最后让一个所有者卡住）。"""
    folder = tmp_path_factory.mktemp("hosts")
    redis_server = _redis(folder)
    servers: list[Gunicorn] = []
    try:
        for name in ("a", "b", "c"):
            servers.append(start_gunicorn(folder, name, _env(redis_server, folder)))
        yield Hosts(servers, redis_server, folder / "stall")
    finally:
        for server in servers:
            server.stop(signal.SIGKILL if server.process.poll() is None else signal.SIGTERM)
        redis_server.stop()


def fresh(server: Gunicorn, path: str, **kwargs: Any) -> requests.Response:
    """每次一个新连接（requests.get 不复用连接）：三个工作进程中的任意一个回答。"""
    return requests.get(server.url + path, timeout=5, **kwargs)


def pid_of(rendered_by: str) -> int:
    """rendered_by（主机名:pid）里的 pid。"""
    return int(rendered_by.rsplit(":", 1)[1])


def data(server: Gunicorn, chart: str) -> dict[str, Any]:
    """图表的整个窗口（/data，不截断）。"""
    response = fresh(server, f"/api/charts/{chart}/data?limit=100000")
    assert response.status_code == 200, response.text
    return response.json()


def settled(server: Gunicorn, chart: str) -> int:
    """暂停之后：等到版本号在一个多间隔里不再变（暂停前开始的最后一次重绘已经写完），返回它。"""
    last = {"version": -1, "at": time.monotonic()}

    def steady() -> int | None:
        version = server.status(chart)["version"]
        if version != last["version"]:
            last.update(version=version, at=time.monotonic())
            return None
        return version if time.monotonic() - last["at"] > 1.5 else None

    return wait_for(steady, 10, f"{chart} stopped changing")


def gaps(rows: list[list[Any]]) -> list[float]:
    """相邻两行的时间差（秒）。"""
    times = [datetime.fromisoformat(row[0]) for row in rows]
    return [(b - a).total_seconds() for a, b in itertools.pairwise(times)]


def test_every_fetched_row_is_kept_and_every_worker_serves_the_same_window(service: Service) -> None:
    """以前：三个工作进程各自从内存覆盖共享的窗口，12 次渲染后窗口里只有 5 行，中间隔 2.5 秒。"""
    wait_for(lambda: service.status("stall")["version"] >= 7, 30, "seven renders of the stall chart")
    assert requests.post(service.url + "/scheduler/jobs/redraw-stall/pause", json={}, auth=AUTH, timeout=5).status_code == 200
    version = settled(service, "stall")
    bodies = {fresh(service, "/api/charts/stall/data?limit=100000").content for _ in range(10)}
    assert len(bodies) == 1, "workers answered different windows"
    document = json.loads(bodies.pop())
    assert document["version"] == version
    # 每次渲染由所有者取一行：行数就是渲染次数（没有哪一行被别的进程的副本覆盖掉）
    assert document["total"] == version, (document["total"], version)
    assert max(gaps(document["rows"])) < 2.5, gaps(document["rows"])
    # 一个所有者：行来自同一个进程（值是取数进程的 pid % 1000）；只有启动时把多拿的图表分给后来的进程时换过一次
    fetched_by = [row[1] for row in document["rows"]]
    changes = sum(1 for a, b in itertools.pairwise(fetched_by) if a != b)
    assert changes <= 1, fetched_by
    assert fetched_by[-1] == pid_of(service.status("stall")["rendered_by"]) % 1000


def test_a_patch_answer_is_what_get_returns_afterwards_on_every_worker(service: Service) -> None:
    """以前：PATCH 先由 Flask-APScheduler 应用、再被对齐线程改一次；别的工作进程过一会儿才跟上。"""
    patched = requests.patch(
        service.url + "/scheduler/jobs/redraw-demo", json={"seconds": 3, "name": "Demo"}, auth=AUTH, timeout=5
    )
    assert patched.status_code == 200, patched.text
    answer = patched.json()
    assert answer["seconds"] == 3 and answer["name"] == "Demo"
    for _ in range(10):
        got = fresh(service, "/scheduler/jobs/redraw-demo", auth=AUTH)
        assert got.status_code == 200
        job = got.json()
        # 下次运行时间对齐到共同的起点：一样，或者已经过了几个完整的间隔
        assert {k: v for k, v in job.items() if k != "next_run_time"} == {k: v for k, v in answer.items() if k != "next_run_time"}
        delay = (datetime.fromisoformat(job["next_run_time"]) - datetime.fromisoformat(answer["next_run_time"])).total_seconds()
        assert delay >= 0 and delay % 3 == 0, (job["next_run_time"], answer["next_run_time"])
        assert fresh(service, "/api/charts/demo").json()["interval"] == 3


def test_pausing_the_scheduler_through_one_worker_pauses_the_whole_service(service: Service) -> None:
    """以前：POST /scheduler/pause 只暂停回答的那个工作进程，/api/charts 的 scheduler.running 随回答的进程来回变。"""
    wait_for(lambda: service.status("demo")["version"] >= 2, 10, "demo renders")
    assert requests.post(service.url + "/scheduler/pause", json={}, auth=AUTH, timeout=5).status_code == 204
    try:
        for _ in range(10):
            body = fresh(service, "/api/charts").json()
            assert body["scheduler"] == {"running": False, "state": "paused"}, body["scheduler"]
        frozen = settled(service, "demo")
        time.sleep(2.5)  # 暂停之后再等一会儿：没有哪个进程还在渲染
        assert service.status("demo")["version"] == frozen
        health = fresh(service, "/healthz")
        assert health.status_code == 503 and "调度器已暂停" in " ".join(health.json()["reasons"])
    finally:
        # 失败了也恢复：这个文件的服务是共用的，暂停着的服务会让之后的测试都跟着失败
        assert requests.post(service.url + "/scheduler/resume", json={}, auth=AUTH, timeout=5).status_code == 204
    # demo 的间隔此时是 3 秒（上一个测试改的）
    wait_for(lambda: service.status("demo")["version"] > frozen, 8, "renders resume everywhere")
    assert all(fresh(service, "/api/charts").json()["scheduler"]["running"] for _ in range(10))
    # start 在多进程时只会作用于一个进程：拒绝并说明怎么做
    started = requests.post(service.url + "/scheduler/start", json={}, auth=AUTH, timeout=5)
    assert started.status_code == 409 and "LIVECHART_SCHEDULER" in started.json()["message"]


RELOADED = re.compile(r"\[(\d+)\] INFO livechart: 配置已重新载入")


def test_a_saved_config_reaches_every_worker_and_every_tick_is_still_rendered_once(service: Service) -> None:
    """保存配置文件：三个工作进程都在 3 秒内应用（demo 的间隔、新图表 extra），文件改过的任务覆盖之前运行时的修改
    （上面的测试把 demo 改成了 3 秒），每个节拍仍只渲染一次、每个图表一个所有者。"""
    workers = set(service.worker_pids())
    service.config.write_text(SERVICE_CONFIG_SAVED)
    saved = time.monotonic()
    wait_for(lambda: {int(pid) for pid in RELOADED.findall(service.log.read_text())} == workers, 3, "every worker reloaded")
    for _ in range(10):
        job = fresh(service, "/scheduler/jobs/redraw-demo", auth=AUTH).json()
        assert job["seconds"] == 2 and job["name"] == "redraw-demo", job
    assert time.monotonic() - saved <= 3
    log = service.log.read_text()
    assert log.count("以配置文件为准") == 1, log  # 几个进程同时载入，作废运行时的修改只发生一次
    assert log.count("配置错误") == 0
    wait_for(lambda: service.status("extra")["version"] >= 1, 5, "the new chart is warmed")
    # 每个节拍只渲染一次：数几秒之内的版本号与节拍数；所有者不变
    start = {chart: service.status(chart) for chart in ("extra", "demo")}
    began = time.monotonic()
    time.sleep(4)
    elapsed = time.monotonic() - began
    for chart, seconds in (("extra", 1), ("demo", 2)):
        now = service.status(chart)
        renders = now["version"] - start[chart]["version"]
        assert elapsed / seconds - 1.5 <= renders <= elapsed / seconds + 1, (chart, renders, elapsed)
        assert now["rendered_by"] == start[chart]["rendered_by"], chart
    assert data(service, "extra")["total"] >= 1
    assert all("extra" in [c["name"] for c in fresh(service, "/api/charts").json()["charts"]] for _ in range(10))


def test_kill_hup_starts_workers_from_the_file_as_it_is_now(service: Service) -> None:
    """gunicorn 的 kill -HUP：新的工作进程读配置文件现在的内容，而不是主进程导入过的旧模块。"""
    old = set(service.worker_pids())
    os.kill(service.process.pid, signal.SIGHUP)
    wait_for(lambda: len(set(service.worker_pids()) - old) == 3 and not old & set(service.worker_pids()), 30, "new workers")
    wait_for(lambda: fresh(service, "/readyz").status_code == 200, 30, "the new workers are ready")
    for _ in range(10):
        assert fresh(service, "/scheduler/jobs/redraw-demo", auth=AUTH).json()["seconds"] == 2
        assert "extra" in [c["name"] for c in fresh(service, "/api/charts").json()["charts"]]


def test_a_worker_restarted_while_the_file_is_broken_keeps_the_service_up(service: Service) -> None:
    """配置文件正好有错时被重启的工作进程（崩溃、OOM、超时）：用主进程记得的上一份有效配置启动并报告错误。
    否则它以“App failed to load”退出，gunicorn 就停掉整个服务器。"""
    good = service.config.read_text()
    # 载入得了、校验不过（主进程 fork 之前也不会记下它）：最难的一种
    service.config.write_text(good + "    LIVECHART_PNG_COMPRESS_LEVEL = 42\n")
    wait_for(lambda: all(fresh(service, "/api/charts").json()["config_error"] for _ in range(10)), 5, "every worker reports")
    victim = service.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(service.worker_pids()) == 3 and victim not in service.worker_pids(), 20, "a new worker")
    wait_for(lambda: "本进程用主进程记得的上一份有效配置启动" in service.log.read_text(), 20, "the new worker started")
    for _ in range(10):
        assert fresh(service, "/readyz").status_code == 200
        body = fresh(service, "/api/charts").json()
        error = body["config_error"]
        assert "LIVECHART_PNG_COMPRESS_LEVEL 必须是 0–9 之间的整数，收到 42" in error["message"], error
        assert "extra" in [c["name"] for c in body["charts"]]
    assert service.process.poll() is None
    service.config.write_text(good)
    wait_for(lambda: not any(fresh(service, "/api/charts").json()["config_error"] for _ in range(10)), 5, "fixed everywhere")


def test_run_on_a_process_that_is_not_the_owner_asks_the_owner(hosts: Hosts) -> None:
    """POST …/run 与缓存未命中都不能让别的进程自己取数：窗口不会分叉。"""
    a = hosts.servers[0]
    wait_for(lambda: a.status("stall")["version"] >= 2, 20, "the stall chart renders")
    # 暂停任务：之后的新图只来自下面的请求。暂停的图表不续约，租约过期后没有所有者
    assert a.post("/scheduler/jobs/redraw-stall/pause").status_code == 200
    settled(a, "stall")
    client = redis.Redis.from_url(hosts.redis.url)
    wait_for(lambda: not client.exists("livechart:" + keys.lease("stall")), 5, "the paused chart's lease expired")
    rows = data(a, "stall")["total"]
    # 没有所有者时，收到请求的进程接手并在请求里重绘
    ran = a.post("/scheduler/jobs/redraw-stall/run")
    assert ran.status_code == 200, ran.text
    owner = a.status("stall")["rendered_by"]
    assert pid_of(owner) in a.worker_pids()
    # 别的进程收到 run：请所有者重绘并等它的结果，自己不取数
    for other in hosts.servers[1:]:
        ran = other.post("/scheduler/jobs/redraw-stall/run")
        assert ran.status_code == 200, ran.text
        assert ran.json()["run"]["version"] == other.status("stall")["version"]
        assert other.status("stall")["rendered_by"] == owner
    document = data(hosts.servers[2], "stall")
    assert document["total"] == rows + 3
    assert {row[1] for row in document["rows"][-3:]} == {pid_of(owner) % 1000}
    other = hosts.servers[1]
    # 缓存未命中：不是所有者的进程用共享的窗口画，不取数
    client.delete("livechart:" + keys.image("stall"))
    image = other.get("/charts/stall.png")
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    assert data(other, "stall")["total"] == rows + 3
    assert a.post("/scheduler/jobs/redraw-stall/resume").status_code == 200  # 后面的测试要它接着画


def test_kill_9_of_an_owner_keeps_every_earlier_row_and_hands_over_within_two_intervals(hosts: Hosts) -> None:
    a = hosts.servers[0]
    wait_for(lambda: a.status("stall")["version"] >= 4, 20, "a few renders")
    owner = a.status("stall")["rendered_by"]
    victim = next(server for server in hosts.servers if pid_of(owner) in server.worker_pids())
    before = data(a, "stall")["rows"]
    os.kill(pid_of(owner), signal.SIGKILL)
    killed = time.monotonic()
    survivor = next(server for server in hosts.servers if server is not victim)
    interval = survivor.status("stall")["interval"]
    wait_for(lambda: survivor.status("stall")["rendered_by"] != owner, 2 * interval + 1, "another process took over")
    assert time.monotonic() - killed <= 2 * interval + 0.5
    version = survivor.status("stall")["version"]
    wait_for(lambda: survivor.status("stall")["version"] >= version + 2, 4 * interval, "rendering continues")
    after = data(survivor, "stall")["rows"]
    kept = {tuple(row) for row in after}
    assert all(tuple(row) in kept for row in before), "rows fetched before the kill were lost"
    # 交接最多跳过两个节拍
    assert max(gaps(after)) <= 3 * interval + 0.5, gaps(after)


def test_an_owner_whose_source_hangs_hands_the_chart_over(hosts: Hosts) -> None:
    a = hosts.servers[0]
    wait_for(lambda: a.status("stall")["version"] >= 2, 20, "the stall chart renders")
    owner = a.status("stall")["rendered_by"]
    (hosts.stall / f"stall-{pid_of(owner)}").touch()  # 所有者下一次取数卡住
    stalled = time.monotonic()
    interval = a.status("stall")["interval"]
    wait_for(
        lambda: a.status("stall")["rendered_by"] != owner, 3 * interval + 1, "another process took over from the stalled owner"
    )
    # 卡住从所有者下一次取数开始（最多一个间隔之后），之后两个间隔内交接
    assert time.monotonic() - stalled <= 3 * interval + 0.5
    version = a.status("stall")["version"]
    wait_for(lambda: a.status("stall")["version"] >= version + 2, 4 * interval, "rendering continues")
    # 卡住的进程其余的图表照常有所有者：没有哪个图表停下
    assert all(not status["stale"] for status in a.get("/api/charts").json()["charts"])


def test_twenty_charts_spread_over_three_processes_and_keep_their_owner(tmp_path: Path, redis_server: RedisServer) -> None:
    """以前：每个节拍谁抢到谁画，同一个图表相邻的两次渲染来自不同的进程（计数器类的数据源丢掉差值）。"""
    env = _env(redis_server, tmp_path, "tests.e2e_config:ManyChartsE2EConfig", WEB_CONCURRENCY="3")
    server = start_gunicorn(tmp_path, "many", env)
    try:
        workers = set(server.worker_pids())
        history: list[dict[str, str]] = []

        def stable_spread() -> bool:
            charts = server.get("/api/charts").json()["charts"]
            history.append({c["name"]: c["rendered_by"] for c in charts})
            if len(history) < 4 or len({tuple(sorted(h.items())) for h in history[-4:]}) != 1:
                return False  # 连续几次（跨过几个节拍）所有者都没变
            counts = Counter(pid_of(owner) for owner in history[-1].values())
            return set(counts) <= workers and len(counts) == 3 and max(counts.values()) <= 10

        wait_for(stable_spread, 60, "ownership spread over the three workers and stable", step=1.0)
    finally:
        server.stop()


def test_processes_whose_config_files_disagree_log_the_difference(hosts: Hosts, tmp_path: Path) -> None:
    other = start_gunicorn(tmp_path, "other", _env(hosts.redis, tmp_path, "tests.e2e_config:DisagreeingE2EConfig"))
    try:
        log = other.log.read_text()
        assert "的配置文件与本进程的不同" in log and "图表 demo：seconds 2.0（本进程）/ 1.0（对方）" in log, log
    finally:
        other.stop()
