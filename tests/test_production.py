"""生产部署：真实的 redis-server 与真实的 gunicorn 进程（make run-prod 同样的命令）。

几个 gunicorn 实例共用一个 Redis，如同几台主机：每个节拍只有一个进程渲染，/scheduler 的修改处处生效且
重启后仍在，Redis 停止和恢复期间只有文档写明的 503（kill -9 之后的交接见 tests/test_service.py）。
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.slowclients import DECLARED_BODY
from bench.slowclients import run_attack
from tests.conftest import ROOT
from tests.conftest import RedisServer
from tests.conftest import free_port
from tests.conftest import require_program
from tests.conftest import wait_for
from tests.conftest import wait_for_process

# 三个 gunicorn 工作进程、按节拍计数与所有权的断言：make test 把这个文件放在并行的部分之后单独跑（Makefile）
pytestmark = pytest.mark.serial

AUTH = ("ops", "s3cret")
JSON = {"Content-Type": "application/json"}
RENDERS = re.compile(r'^livechart_renders_total\{chart="(\w+)"\} ([0-9.e+]+)$', re.MULTILINE)


@dataclass
class Gunicorn:
    """一个 gunicorn 实例（主进程 + 工作进程），日志写到文件。"""

    url: str
    process: subprocess.Popen
    log: Path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET 本实例上的路径。"""
        return requests.get(self.url + path, timeout=5, **kwargs)

    def post(self, path: str, body: Any = None) -> requests.Response:
        """带凭据、以 JSON POST 到 /scheduler API。"""
        return requests.post(self.url + path, json=body or {}, auth=AUTH, timeout=5)

    def renders(self, chart: str) -> int:
        """本实例（单个工作进程）渲染这个图表的次数，来自 /metrics。"""
        found = {name: float(value) for name, value in RENDERS.findall(self.get("/metrics").text)}
        return int(found.get(chart, 0))

    def status(self, chart: str) -> dict[str, Any]:
        """/api/charts/<chart> 的 JSON。"""
        return self.get(f"/api/charts/{chart}").json()

    def worker_pids(self) -> list[int]:
        """工作进程的 pid。"""
        import psutil

        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """向主进程发信号并等待退出；返回退出状态。"""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_gunicorn(tmp_path: Path, name: str, env: dict[str, str], *, wait: bool = True) -> Gunicorn:
    """用与 make run-prod 相同的命令启动 gunicorn，等到 /readyz 为 200。"""
    port = free_port()
    home = tmp_path / f"home-{name}"
    home.mkdir(exist_ok=True)
    log = tmp_path / f"{name}.log"
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LIVECHART_CONFIG": "tests.e2e_config:ProductionE2EConfig",
        "LIVECHART_API_USER": AUTH[0],
        "LIVECHART_API_PASSWORD": AUTH[1],
        "LIVECHART_PORT": str(port),
        "WEB_CONCURRENCY": "1",
        **env,
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "python:livechart.gunicorn_config", "livechart.wsgi:app"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=tmp_path, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    server = Gunicorn(f"http://127.0.0.1:{port}", process, log)
    if wait:
        _wait_ready(server)
    return server


def _wait_ready(server: Gunicorn) -> None:
    """等到 /readyz 为 200（每个图表都有图）。"""
    wait_for_process(server.process, server.log, lambda: server.get("/readyz").status_code, f"gunicorn ({server.log.name})")


@pytest.fixture
def cluster(tmp_path: Path, redis_server: RedisServer) -> Iterator[list[Gunicorn]]:
    """三个 gunicorn 实例（各一个工作进程，如同三台主机）共用一个 Redis。"""
    env = {"LIVECHART_REDIS_URL": redis_server.url}
    servers: list[Gunicorn] = []
    try:
        for name in ("a", "b", "c"):
            servers.append(start_gunicorn(tmp_path, name, env, wait=False))
        for server in servers:
            _wait_ready(server)
        yield servers
    finally:
        for server in servers:
            server.stop(signal.SIGKILL if server.process.poll() is None else signal.SIGTERM)


def _total_renders(servers: list[Gunicorn], chart: str) -> int:
    return sum(server.renders(chart) for server in servers)


def test_three_processes_render_each_tick_exactly_once(cluster: list[Gunicorn]) -> None:
    # 每个实例的调度器都在运行：重复渲染不是因为别的实例闲着
    assert all(server.get("/healthz").json()["scheduler_running"] for server in cluster)
    wait_for(lambda: cluster[0].status("demo")["version"] >= 2, 10, "first scheduled render")
    start_total, start_version, started = _total_renders(cluster, "demo"), cluster[0].status("demo")["version"], time.time()
    time.sleep(4)  # 测量窗口：约 4 个 1 秒的节拍（这里不是等待某件事发生，而是计数的区间）
    end_total, end_version, ended = _total_renders(cluster, "demo"), cluster[0].status("demo")["version"], time.time()
    ticks = ended - started
    renders = end_total - start_total
    # 三个进程各自的调度器都在触发；没有协调时这里是 3 × ticks
    assert ticks - 1.5 <= renders <= ticks + 1.5, f"{renders} renders in {ticks:.1f} ticks"
    # 共享的版本号（Redis INCR）与各进程渲染次数之和一致：没有哪次渲染是在协调之外发生的
    assert end_version - start_version == renders
    # 每个实例报告的都是同一张图（共享的 Redis），画它的是集群里的某个工作进程
    owners = {server.status("demo")["rendered_by"] for server in cluster}
    workers = {pid for server in cluster for pid in server.worker_pids()}
    assert all(int(owner.rsplit(":", 1)[1]) in workers for owner in owners), (owners, workers)


def test_scheduler_changes_reach_every_process_and_survive_a_restart(
    tmp_path: Path, cluster: list[Gunicorn], redis_server: RedisServer
) -> None:
    a, b, c = cluster
    assert a.post("/scheduler/jobs/redraw-demo/pause").status_code == 200
    patched = requests.patch(b.url + "/scheduler/jobs/redraw-cpu", json={"trigger": "interval", "seconds": 3}, auth=AUTH,
                             timeout=5)  # fmt: skip
    assert patched.status_code == 200, patched.text

    def everywhere() -> bool:
        return all(s.status("demo")["paused"] and s.status("cpu")["interval"] == 3 for s in cluster)

    wait_for(everywhere, 1.5, "pause and interval change reached every process")
    frozen = c.status("demo")["version"]
    # 暂停后不再有任何进程渲染 demo（等过 2 个间隔）
    time.sleep(2)
    assert all(s.status("demo")["version"] == frozen for s in cluster)

    # 重启每一个进程：期望状态在 Redis 里，新进程启动后照样是暂停和 3 秒
    for server in cluster:
        assert server.stop() == 0
    restarted = [start_gunicorn(tmp_path, f"again-{n}", {"LIVECHART_REDIS_URL": redis_server.url}) for n in ("a", "b")]
    try:
        wait_for(lambda: all(s.status("demo")["paused"] and s.status("cpu")["interval"] == 3 for s in restarted), 3,
                 "state restored after restart")  # fmt: skip
        jobs = restarted[0].get("/scheduler/jobs", auth=AUTH).json()
        demo = next(job for job in jobs if job["id"] == "redraw-demo")
        assert demo["next_run_time"] is None

        # 在另一个进程上恢复：所有进程恢复渲染
        assert restarted[1].post("/scheduler/jobs/redraw-demo/resume").status_code == 200
        wait_for(lambda: restarted[0].status("demo")["version"] > frozen, 4, "demo renders again after resume")
    finally:
        for server in restarted:
            server.stop()


def _hammer(servers: list[Gunicorn], stop: threading.Event, results: Counter, problems: list[str]) -> None:
    """持续请求图片、状态与健康检查，记录每个状态码；文档之外的响应记入 problems。"""
    session = requests.Session()
    paths = ["/charts/demo.png", "/plot.png", "/api/charts", "/healthz", "/"]
    i = 0
    while not stop.is_set():
        server, path = servers[i % len(servers)], paths[i % len(paths)]
        i += 1
        try:
            response = session.get(server.url + path, timeout=5)
        except requests.RequestException as exc:
            problems.append(f"{path}: {type(exc).__name__}")
            continue
        results[(path, response.status_code, "X-Livechart-Stale" in response.headers)] += 1
        if response.status_code >= 500:
            documented = response.status_code == 503 and response.headers.get("Content-Type") == "application/json"
            if not documented or (path != "/healthz" and "Retry-After" not in response.headers):
                problems.append(f"{path}: {response.status_code} {response.text[:200]}")
            if "Traceback" in response.text:
                problems.append(f"{path}: traceback in body")


def test_redis_outage_under_load_serves_last_images_then_recovers(tmp_path: Path, redis_server: RedisServer) -> None:
    env = {"LIVECHART_REDIS_URL": redis_server.url}
    servers = [start_gunicorn(tmp_path, name, env) for name in ("x", "y")]
    stop, results, problems = threading.Event(), Counter(), []
    threads = [threading.Thread(target=_hammer, args=(servers, stop, results, problems)) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: sum(results.values()) > 50, 10, "load is running")

        redis_server.stop()
        # 图片路由：每个进程提供它内存里的最后一张图，响应头标明可能过时
        for server in servers:
            down = wait_for(lambda s=server: _stale_image(s), 5, "stale image while Redis is down")
            assert down.headers["X-Livechart-Stale"] == "cache-unavailable"
            status = server.get("/api/charts")
            assert status.status_code == 503 and status.json()["error"] == "unavailable"
            assert status.headers["Retry-After"] == "1"
        wait_for(lambda: results[("/plot.png", 200, True)] > 20, 10, "stale images served under load")

        redis_server.start()  # 同一端口，空的 Redis（不落盘）
        recovered_at = time.monotonic()

        def fresh(server: Gunicorn) -> bool:
            response = server.get("/charts/demo.png")
            return response.status_code == 200 and "X-Livechart-Stale" not in response.headers

        # 一个间隔（1 秒）内恢复：图片不再标为过时，状态接口回到 200，计划的渲染继续
        for server in servers:
            wait_for(lambda s=server: fresh(s) and s.get("/api/charts").status_code == 200, 1.5, "recovered")
        version = servers[0].status("demo")["version"]
        wait_for(lambda: servers[0].status("demo")["version"] > version, 1.5, "scheduled renders resumed")
        assert time.monotonic() - recovered_at < 2.5, servers[0].log.read_text()[-6000:]
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        for server in servers:
            server.stop()
    assert problems == []
    assert all(status in (200, 304, 503) for (_, status, _) in results), results
    # 任务只在状态改变时记录：每个进程一行“不可用”，一行“已恢复”，而不是每个节拍一行
    for server in servers:
        log = server.log.read_text()
        assert log.count("缓存（Redis）不可用") == 1, log
        assert log.count("缓存（Redis）已恢复") == 1, log
        assert "Traceback" not in log


def _stale_image(server: Gunicorn) -> requests.Response | None:
    response = server.get("/plot.png")
    assert response.status_code == 200, response.text
    return response if "X-Livechart-Stale" in response.headers else None


def test_web_role_serves_from_redis_and_runs_no_jobs(tmp_path: Path, redis_server: RedisServer) -> None:
    env = {"LIVECHART_REDIS_URL": redis_server.url}
    worker = start_gunicorn(tmp_path, "all", env)
    web = start_gunicorn(tmp_path, "web", {**env, "LIVECHART_ROLE": "web", "WEB_CONCURRENCY": "2"})
    try:
        image = web.get("/plot.png")
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
        version = web.status("demo")["version"]
        wait_for(lambda: web.status("demo")["version"] > version, 3, "web role sees new images")
        assert web.get("/healthz").status_code == 200
        assert web.renders("demo") == 0 and web.renders("cpu") == 0
        # 没有 /scheduler API；任务在 all 进程上控制，web 进程的状态跟着 Redis 里的期望状态走
        assert web.post("/scheduler/jobs/redraw-demo/pause").status_code == 404
        assert worker.post("/scheduler/jobs/redraw-demo/pause").status_code == 200
        wait_for(lambda: web.status("demo")["paused"], 1.5, "web role reports the pause")
        assert web.status("demo")["next_run"] is None
        assert web.status("cpu")["next_run"] is not None
    finally:
        web.stop()
        worker.stop()


def test_a_variant_asked_for_on_a_web_process_is_redrawn_by_the_owner(tmp_path: Path, redis_server: RedisServer) -> None:
    """变体的需求经 Redis 到达图表的所有者（在另一个 gunicorn 里）：只在 web 进程上要过一次，
    之后所有者每个节拍接着画它（livechart/demand.py）。"""
    env = {"LIVECHART_REDIS_URL": redis_server.url}
    worker = start_gunicorn(tmp_path, "all", env)
    web = start_gunicorn(tmp_path, "web", {**env, "LIVECHART_ROLE": "web", "WEB_CONCURRENCY": "1"})
    try:
        first = web.get("/charts/demo.dark@2x.png")
        assert first.status_code == 200 and first.headers["Content-Type"] == "image/png"
        version = int(first.headers["X-Livechart-Version"])

        def redrawn() -> bool:
            answer = worker.get("/charts/demo.dark@2x.png")
            return int(answer.headers["X-Livechart-Version"]) >= version + 2

        wait_for(redrawn, 10, "the owner never redrew the variant asked for on the web process")
        assert web.renders("demo") == 0
        again = web.get("/charts/demo.dark@2x.png")
        assert int(again.headers["X-Livechart-Version"]) >= version + 2  # web 进程的副本跟着 Redis
    finally:
        web.stop()
        worker.stop()


def test_run_prod_draws_in_a_render_process_by_default(tmp_path: Path, redis_server: RedisServer) -> None:
    import psutil

    # 不设置 LIVECHART_RENDER_PROCESSES：make run-prod 的默认（生产配置）是每个工作进程一个绘制进程，从 forkserver 启动
    server = start_gunicorn(tmp_path, "default-pool", {"LIVECHART_REDIS_URL": redis_server.url})
    try:
        (worker,) = psutil.Process(server.process.pid).children()
        forkservers = [child for child in worker.children() if "forkserver" in " ".join(child.cmdline())]
        assert len(forkservers) == 1
        # 绘制进程在后台启动（启动好之前在工作进程里画）：等它启动好、开始在里面绘制
        wait_for(lambda: "个绘制进程已启动" in server.log.read_text(), 60, "the render process never became ready")
        (render,) = forkservers[0].children()
        # 这个进程确实在绘制：杀掉它，下一次重绘报告 RenderProcessDied，之后换上的新进程照常绘制
        render.kill()

        def errors() -> list[dict[str, Any]]:
            return [error for chart in ("demo", "cpu") if (error := server.status(chart)["last_error"])]

        wait_for(lambda: any("RenderProcessDied" in error["message"] for error in errors()), 15, "the render failure reported")
        wait_for(lambda: all(error["consecutive_failures"] == 0 for error in errors()), 15, "drawing again")
        (replacement,) = forkservers[0].children()
        assert replacement.pid != render.pid
    finally:
        server.stop()


@pytest.mark.parametrize("render_processes", ["0", "1"])
def test_sigterm_stops_gunicorn_within_five_seconds_with_status_0(
    tmp_path: Path, redis_server: RedisServer, render_processes: str
) -> None:
    import psutil

    env = {"LIVECHART_REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "2", "LIVECHART_RENDER_PROCESSES": render_processes}
    server = start_gunicorn(tmp_path, "term", env)
    try:
        # 2 个工作进程，各自带 render_processes 个绘制进程（spawn 另有一个 multiprocessing 的资源跟踪进程）；
        # /readyz 由先起来的工作进程回答，另一个可能还在启动：等全家都到齐
        family = wait_for(
            lambda: (
                (kids := psutil.Process(server.process.pid).children(recursive=True))
                and len(kids) >= 2 * (1 + int(render_processes))
                and kids
            ),
            30,
            "every worker and render process started",
        )
        # 两个工作进程都载入完了再发 SIGTERM：这个测试量的是停止一个运行中的服务。载入途中（create_app 还没返回）收到的
        # SIGTERM 在 asyncio 工作进程里可能丢失，主进程在 graceful_timeout 之后 SIGKILL 它，它的绘制进程会留下（已知问题）
        wait_for(lambda: server.log.read_text().count("ASGI server listening") >= 2, 30, "both workers serving")
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 0
        assert time.monotonic() - started < 5
    finally:
        server.stop(signal.SIGKILL)
    # 没有留下孤儿进程（绘制进程随工作进程一起结束）
    wait_for(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in family), 5, "children exited")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WEB_CONCURRENCY": "2"}, "WEB_CONCURRENCY=2 而 CACHE_TYPE='SimpleCache'：这种缓存只在一个进程里"),
        ({"LIVECHART_API_PASSWORD": ""}, "LIVECHART_API_USER 和 LIVECHART_API_PASSWORD 要么都设置，要么都不设置"),
        ({"LIVECHART_API_USER": "", "LIVECHART_API_PASSWORD": ""}, "没有设置 LIVECHART_API_USER / LIVECHART_API_PASSWORD"),
        ({"LIVECHART_THREADS": "0"}, "LIVECHART_THREADS 必须是不小于 1 的整数，收到 '0'"),
        ({"LIVECHART_ROLE": "web"}, "LIVECHART_ROLE=web 只提供别的进程画好的图"),
    ],
)
def test_run_prod_refuses_unsafe_deployments(tmp_path: Path, env: dict[str, str], message: str) -> None:
    server = start_gunicorn(tmp_path, "refused", env, wait=False)
    assert server.process.wait(30) != 0
    assert message in server.log.read_text()


def test_the_readme_nginx_front_end_routes_caches_and_compresses(tmp_path: Path, redis_server: RedisServer) -> None:
    """README 里的 nginx 配置原样运行在一个 gunicorn 前面：路由、1 秒的图片微缓存、JSON 的 gzip。"""
    nginx = require_program("nginx", "the README's nginx front end (Debian package nginx-light)")
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"```nginx\n(.*?)```", readme, re.DOTALL)
    assert snippet, "README.md has no ```nginx block"
    backend = start_gunicorn(tmp_path, "behind-nginx", {"LIVECHART_REDIS_URL": redis_server.url})
    port = free_port()
    upstream_port = backend.url.rsplit(":", 1)[1]
    conf = (
        snippet.group(1)
        .replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("/dev/shm/nginx-livechart", str(tmp_path / "nginx-cache"))
        .replace("127.0.0.1:8000", f"127.0.0.1:{upstream_port}")
        .replace("127.0.0.1:8001", f"127.0.0.1:{upstream_port}")
    )
    (tmp_path / "logs").mkdir()
    config = tmp_path / "nginx.conf"
    config.write_text(
        # 以 root 运行时，nginx 的工作进程默认换成 nobody，进不了 pytest 的临时目录（0700）
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path}/body;\nproxy_temp_path {tmp_path}/proxy;\n{conf}\n}}\n"
    )
    with open(tmp_path / "logs" / "stderr.log", "wb") as errors:
        process = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(config)], stderr=errors)
    front = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(front, process, tmp_path / "logs"), 10, "nginx did not start")
        first = requests.get(f"{front}/plot.png?t=1", timeout=5)
        second = requests.get(f"{front}/plot.png?t=2", timeout=5)
        assert first.status_code == second.status_code == 200
        assert first.headers["X-Cache-Status"] == "MISS"
        # 1 秒内第二个请求（不同的 ?t=）由 nginx 的缓存回答；浏览器看到的仍是 no-cache
        assert second.headers["X-Cache-Status"] == "HIT" and second.content == first.content
        assert second.headers["Cache-Control"] == "no-cache"
        # 1 秒后缓存过期，再次向 livechart 取到新一版
        version = int(first.headers["X-Livechart-Version"])
        wait_for(lambda: int(requests.get(f"{front}/plot.png", timeout=5).headers["X-Livechart-Version"]) > version, 4,
                 "a new image after the micro-cache expired")  # fmt: skip
        # 变体有自己的路径：按 $uri 缓存的 nginx 不会把 2× 的图当成 1× 的发出去
        sharp = requests.get(f"{front}/charts/demo@2x.png?t=1", timeout=5)
        plain = requests.get(f"{front}/charts/demo.png?t=1", timeout=5)
        assert sharp.status_code == plain.status_code == 200 and sharp.content != plain.content
        assert len(sharp.content) > len(plain.content)
        status = requests.get(f"{front}/api/charts", headers={"Accept-Encoding": "gzip"}, timeout=5)
        assert status.status_code == 200 and status.headers["Content-Encoding"] == "gzip"
        assert status.json()["charts"]
        # /scheduler 路由到运行任务的进程（这里是同一个），凭据照样要求
        assert requests.get(f"{front}/scheduler/jobs", timeout=5).status_code == 401
        assert requests.get(f"{front}/scheduler/jobs", auth=AUTH, timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(10)
        backend.stop()


def _answers(url: str, process: subprocess.Popen, logs: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"nginx exited: {(logs / 'stderr.log').read_text()}")
    try:
        requests.get(url + "/healthz", timeout=2)
        return True
    except requests.ConnectionError:
        return False


def test_run_prod_keeps_answering_while_400_slow_clients_hold_connections(tmp_path: Path, redis_server: RedisServer) -> None:
    """docs/pitfalls.md 第 21 条：make run-prod 直接面对客户端（README 的 LIVECHART_HOST=0.0.0.0）。

    200 个连接每秒只发一个字节的请求头，200 个未认证的 POST /scheduler/jobs 每秒只发一个字节的请求体
    （声明 60 000 字节，不超过上限），同时不断有新连接发正常的 GET /plot.png 与 /api/charts：
    ≥ 90 % 在 3 秒内得到 200；后台渲染照常进行；慢连接还开着时 SIGTERM 仍在 5 秒内以 0 退出。
    gthread（每个连接一个线程）在这里几乎什么都不回答。
    """
    assert DECLARED_BODY < 64 * 1024  # 慢请求体在上限之内：服务器不能一看请求头就拒绝
    server = start_gunicorn(tmp_path, "slow-clients", {"LIVECHART_REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "2"})
    port = int(server.url.rsplit(":", 1)[1])
    version = server.status("demo")["version"]

    def renders_then_sigterm() -> dict[str, Any]:
        """攻击仍在进行：读一次状态（渲染在继续吗），然后 SIGTERM 并计时。"""
        try:
            rendered = server.status("demo")["version"] - version
        except requests.RequestException as exc:
            rendered = f"status unreachable: {type(exc).__name__}"
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            code = server.process.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        return {"rendered": rendered, "exit": code, "seconds": time.monotonic() - started}

    try:
        outcome = run_attack("127.0.0.1", port, settle=3, seconds=10, then=renders_then_sigterm)
    finally:
        server.stop(signal.SIGKILL)
    summary = outcome.summary()
    # 攻击确实在位：400 个慢连接都连上了，服务器在探测期间没有把它们关掉
    assert summary["slow_opened"] == 400, summary
    assert outcome.fraction >= 0.9, summary
    assert outcome.probes >= 20, summary
    # 10 秒的攻击里 demo（1 秒间隔）至少又渲染了几次
    assert isinstance(outcome.then["rendered"], int) and outcome.then["rendered"] >= 5, outcome.then
    assert outcome.then["exit"] == 0 and outcome.then["seconds"] < 5, outcome.then
    assert "Traceback" not in server.log.read_text()


def test_run_prod_reads_request_bodies_before_flask_and_bounds_them(tmp_path: Path, redis_server: RedisServer) -> None:
    """请求体在交给 Flask 之前读完（docs/pitfalls.md 第 28 条）：分块传输的 JSON 照常工作；超过
    MAX_CONTENT_LENGTH（64 KiB）的请求体，无论声明了长度还是分块发送，都得到 413 JSON，而不是 400 或挂起。"""
    import base64
    import socket

    server = start_gunicorn(tmp_path, "bodies", {"LIVECHART_REDIS_URL": redis_server.url})
    try:

        def chunks(data: bytes) -> Iterator[bytes]:
            yield from (data[i : i + 1000] for i in range(0, len(data), 1000))

        url = server.url + "/scheduler/jobs"
        paused = requests.post(url + "/redraw-demo/pause", data=chunks(b"{}"), headers=JSON, auth=AUTH, timeout=5)
        assert paused.status_code == 200 and paused.json()["next_run_time"] is None, paused.text
        big = b'{"id": "' + b"x" * 70_000 + b'"}'
        chunked = requests.post(url, data=chunks(big), headers=JSON, auth=AUTH, timeout=5)
        assert chunked.status_code == 413 and chunked.json()["error"] == "request_entity_too_large", chunked.text
        sized = requests.post(url, data=big, headers=JSON, auth=AUTH, timeout=5)
        assert sized.status_code == 413 and sized.json()["error"] == "request_entity_too_large", sized.text
        # 只发请求头、声明 1 MB：不等请求体就回答 413
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            token = "Basic " + base64.b64encode(":".join(AUTH).encode()).decode()
            sock.sendall(f"POST /scheduler/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {token}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n".encode())  # fmt: skip
            assert sock.recv(65536).startswith(b"HTTP/1.1 413 ")
    finally:
        server.stop()
