"""整个服务的指标：真实的 gunicorn（make run-prod 同样的命令，3 个工作进程）、真实的 redis-server 与真实的 Prometheus。

任何一个工作进程回答的 /metrics 都是整个服务器：计数器从不倒退（每次新连接，轮到哪个工作进程都一样），
Prometheus 算出的 rate(livechart_renders_total) 与图表版本号给出的真实渲染速率一致（5 % 以内）。
不依赖哪个工作进程渲染：真实的渲染次数来自共享的版本号（每次渲染加一）。
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RedisServer
from tests.conftest import free_port
from tests.conftest import require_program
from tests.conftest import wait_for
from tests.conftest import wait_for_process
from tests.test_production import Gunicorn
from tests.test_production import start_gunicorn

# 三个 gunicorn 工作进程、按节拍计数与所有权的断言：make test 把这个文件放在并行的部分之后单独跑（Makefile）
pytestmark = pytest.mark.serial

CHARTS = ("cpu", "demo")
# 测量窗口（秒）：Prometheus 每秒抓取一次，窗口里约 24 个样本；差一次渲染是 1/23 < 5 %
WINDOW = 24
METRICS_DIR = re.compile(r"所有工作进程的指标都在 (\S+)")


def scrape(server: Gunicorn) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """新连接上抓取一次 /metrics：只取计数器与直方图的累计样本（_created 是时间戳，不是累计值）。"""
    response = requests.get(server.url + "/metrics", headers={"Connection": "close"}, timeout=5)
    assert response.status_code == 200, response.text
    found = {}
    for family in text_string_to_metric_families(response.text):
        if family.type not in ("counter", "histogram"):
            continue
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


class Prometheus:
    """一个真实的 prometheus 进程：每秒抓取一次 targets，数据只放在临时目录里。"""

    def __init__(self, workdir: Path, target: str) -> None:
        program = require_program("prometheus", "the whole-service metrics test (Debian package prometheus)")
        self.url = f"http://127.0.0.1:{free_port()}"
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            f"scrape_configs:\n  - job_name: livechart\n    static_configs:\n      - targets: ['{target}']\n"
        )
        self.log = workdir / "prometheus.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [program, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                 f"--web.listen-address={self.url.removeprefix('http://')}", "--log.level=warn"],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for_process(self.process, self.log, lambda: requests.get(self.url + "/-/ready", timeout=2).status_code,
                         "prometheus")  # fmt: skip

    def query(self, expression: str, at: float) -> list[dict[str, Any]]:
        """/api/v1/query 在时刻 at 的结果（result 列表）。"""
        answer = requests.get(self.url + "/api/v1/query", params={"query": expression, "time": f"{at:.3f}"}, timeout=5)
        body = answer.json()
        assert answer.status_code == 200 and body["status"] == "success", body
        return body["data"]["result"]

    def stop(self) -> None:
        """SIGTERM 并等待。"""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def three_workers(tmp_path: Path, redis_server: RedisServer) -> Iterator[Gunicorn]:
    """make run-prod 同样的 gunicorn：3 个工作进程，一个 Redis。"""
    server = start_gunicorn(tmp_path, "three", {"LIVECHART_REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "3"})
    try:
        yield server
    finally:
        server.stop()


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_prometheus_sees_every_render_of_every_worker(tmp_path: Path, three_workers: Gunicorn) -> None:
    server = three_workers
    prometheus = Prometheus(tmp_path, server.url.removeprefix("http://"))
    try:
        # 第一次抓取就有每个图表的序列（从 0 开始，不是第一次发生时才出现）
        first = scrape(server)
        for chart in CHARTS:
            for name in ("livechart_renders_total", "livechart_render_failures_total", "livechart_cache_misses_total",
                         "livechart_render_seconds_count", "livechart_job_lateness_seconds_count"):  # fmt: skip
                assert (name, (("chart", chart),)) in first, f"{name}{{chart={chart!r}}} missing from /metrics"

        # Prometheus 第一次抓取之后才开始测量：窗口里从头到尾都有样本（rate 不必外推）
        selector = 'livechart_renders_total{chart="demo"}'
        wait_for(lambda: prometheus.query(selector, time.time()), 10, f"prometheus scraped {selector}")

        # 测量窗口：每约 0.1 秒一次新连接的抓取（轮到哪个工作进程都行）与一次图表状态（真实的版本号及其渲染时刻）
        rendered_at: dict[int, float] = {}
        backwards: list[str] = []
        previous = first
        started = time.time()
        while time.time() < started + WINDOW + 1.5:
            status = server.status("demo")
            rendered_at[status["version"]] = _epoch(status["rendered_at"])
            current = scrape(server)
            for key, value in previous.items():
                now = current.get(key, 0.0)
                if now < value - 1e-9 * max(1.0, value):
                    backwards.append(f"{key[0]}{dict(key[1])}: {value} -> {now}")
            previous = {**previous, **current}
            time.sleep(0.1)
        at = time.time() - 0.5
        assert not backwards, f"counters went backwards between plain scrapes: {backwards[:10]} ({len(backwards)} in all)"

        # Prometheus 已经抓到 at 之后：窗口里的样本完整

        def scraped_up_to_at() -> bool:
            result = prometheus.query(f"timestamp({selector})", time.time())
            return bool(result) and float(result[0]["value"][1]) >= at

        wait_for(scraped_up_to_at, 10, f"prometheus scraped {selector} after the window")
        (raw,) = prometheus.query(f"{selector}[{WINDOW}s]", at)
        samples = [(float(t), float(v)) for t, v in raw["values"]]
        (rate,) = prometheus.query(f"rate({selector}[{WINDOW}s])", at)
        (resets,) = prometheus.query(f"resets({selector}[{WINDOW}s])", at)
        (first_t, first_v), (last_t, last_v) = samples[0], samples[-1]

        # 真实的渲染次数：在第一个与最后一个样本的时刻之间新出现的版本（版本号每次渲染加一）
        def version_at(moment: float) -> int:
            return max(version for version, when in rendered_at.items() if when <= moment)

        true_renders = version_at(last_t) - version_at(first_t)
        true_rate = true_renders / (last_t - first_t)
        prometheus_rate = float(rate["value"][1])
        detail = (f"prometheus rate {prometheus_rate:.3f}/s, increase {last_v - first_v:g} over {last_t - first_t:.1f} s "
                  f"({len(samples)} samples); true {true_renders} renders = {true_rate:.3f}/s; resets {resets['value'][1]}")  # fmt: skip
        assert true_renders >= WINDOW / 2, f"the 1 s chart hardly rendered: {detail}"
        assert float(resets["value"][1]) == 0, detail
        assert abs(prometheus_rate - true_rate) <= 0.05 * true_rate, detail
    finally:
        prometheus.stop()


def _metrics_dir(server: Gunicorn) -> Path:
    """主进程在日志里写明的多进程指标目录。"""
    found = wait_for(lambda: METRICS_DIR.search(server.log.read_text()), 5, "the metrics directory in the log")
    return Path(found.group(1))


def _renders(server: Gunicorn) -> float:
    return sum(scrape(server).get(("livechart_renders_total", (("chart", chart),)), 0.0) for chart in CHARTS)


def test_metrics_directory_is_fresh_survives_dead_workers_and_is_removed(tmp_path: Path, redis_server: RedisServer) -> None:
    server = start_gunicorn(tmp_path, "own", {"LIVECHART_REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "2"})
    try:
        directory = _metrics_dir(server)
        if Path("/dev/shm").is_dir():
            assert directory.parent == Path("/dev/shm"), directory  # tmpfs：不落盘
        # 每个工作进程有自己的文件
        pids = server.worker_pids()
        wait_for(lambda: all(list(directory.glob(f"*_{pid}.db")) for pid in pids), 10, f"files of {pids} in {directory}")

        # kill -9 一个工作进程：它的计数留在合计里，新的工作进程从 0 开始，合计不倒退
        wait_for(lambda: _renders(server) >= 4, 10, "a few renders")
        before = _renders(server)
        victim = pids[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in server.worker_pids() and len(server.worker_pids()) == 2, 10, "a replacement worker")
        replacement = next(pid for pid in server.worker_pids() if pid not in pids)
        wait_for(lambda: list(directory.glob(f"*_{replacement}.db")), 10, "the replacement's files")
        for _ in range(20):  # 新连接，两个工作进程都会回答
            assert _renders(server) >= before
    finally:
        assert server.stop() == 0
    assert not directory.exists(), f"{directory} left behind"


def test_a_directory_given_by_the_user_is_emptied_at_start_and_kept(tmp_path: Path, redis_server: RedisServer) -> None:
    given = tmp_path / "prometheus-multiproc"
    given.mkdir()
    (given / "notes.txt").write_text("not prometheus-client's")
    # 上一次运行留下的文件：一个已经不在的进程数过 100 万次渲染（用 prometheus-client 自己写）
    stale = ("from prometheus_client import Counter; "
             "Counter('livechart_renders', 'Successful renders', ['chart']).labels('demo').inc(1_000_000)")  # fmt: skip
    subprocess.run([sys.executable, "-c", stale], env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(given)}, check=True)
    assert list(given.glob("counter_*.db"))

    server = start_gunicorn(tmp_path, "given", {"LIVECHART_REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "2",
                                                "PROMETHEUS_MULTIPROC_DIR": str(given)})  # fmt: skip
    try:
        assert _metrics_dir(server) == given
        renders = _renders(server)
        assert renders < 1_000_000, f"the previous run's counts were merged in: {renders}"
        pids = server.worker_pids()
        wait_for(lambda: all(list(given.glob(f"*_{pid}.db")) for pid in pids), 10, f"files of {pids} in {given}")
    finally:
        assert server.stop() == 0
    # 用户的目录与其中别的文件都留着
    assert (given / "notes.txt").read_text() == "not prometheus-client's"


def test_an_unusable_directory_stops_start_up_with_a_clear_message(tmp_path: Path, redis_server: RedisServer) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    server = start_gunicorn(tmp_path, "bad", {"LIVECHART_REDIS_URL": redis_server.url,
                                              "PROMETHEUS_MULTIPROC_DIR": str(blocker / "metrics")}, wait=False)  # fmt: skip
    try:
        assert server.process.wait(30) != 0
    finally:
        server.stop()
    log = server.log.read_text()
    assert "livechart 拒绝启动：PROMETHEUS_MULTIPROC_DIR=" in log, log
    assert "Traceback" not in log, log


def test_a_directory_left_by_a_killed_server_is_removed_at_the_next_start(tmp_path: Path, redis_server: RedisServer) -> None:
    env = {"LIVECHART_REDIS_URL": redis_server.url}
    alive = start_gunicorn(tmp_path, "alive", env)
    killed = start_gunicorn(tmp_path, "killed", env)
    servers = [alive, killed]
    try:
        alive_dir, killed_dir = _metrics_dir(alive), _metrics_dir(killed)
        # kill -9 主进程与工作进程：on_exit 不会运行，目录留了下来
        for pid in [*killed.worker_pids(), killed.process.pid]:
            os.kill(pid, signal.SIGKILL)
        killed.process.wait(10)
        assert killed_dir.exists()
        servers.append(start_gunicorn(tmp_path, "next", env))
        assert not killed_dir.exists(), f"{killed_dir} of a killed server survived the next start"
        # 还在运行的服务器（它的工作进程持有锁）的目录不动，它的 /metrics 照常
        assert alive_dir.exists() and list(alive_dir.glob("counter_*.db"))
        assert ("livechart_renders_total", (("chart", "demo"),)) in scrape(alive)
    finally:
        for server in servers:
            server.stop()
