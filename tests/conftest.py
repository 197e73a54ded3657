"""测试夹具：app / client、真实的 redis-server、真实的服务进程。"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from livechart import coordination
from livechart import create_app
from livechart import keys
from livechart import shutdown
from livechart.extensions import cache
from livechart.extensions import scheduler
from livechart.leases import lease_ms

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_program(path_or_name: str, why: str) -> str:
    """返回程序路径；缺少时在开发机上跳过，在 CI（CI=true）中失败。"""
    found = shutil.which(path_or_name)
    if found:
        return found
    message = f"{path_or_name} is not installed ({why}); .ci/run installs it"
    if IN_CI:
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


def free_port() -> int:
    """回环地址上的一个空闲端口。"""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, message: str, step: float = 0.05) -> Any:
    """轮询直到 predicate 返回真值或超时。"""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message}")
        time.sleep(step)


GOLDEN = Path(__file__).resolve().parent / "golden"
# 重新生成基准图：UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_kinds.py tests/test_draw.py（生成后要看一眼）
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"


def require_cjk() -> None:
    """基准图里有中文：需要 CJK 字体（CI 安装 fonts-wqy-microhei）。"""
    from livechart import fonts

    if fonts.find_cjk_font() is None:
        message = "no CJK font installed; golden images contain Chinese text"
        if IN_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    fonts.configure_fonts()


def pixels(png: bytes) -> Any:
    """PNG → RGB 像素（int16，相减不溢出）。"""
    import io

    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def assert_golden(name: str, png: bytes, tmp_path: Path) -> None:
    """按像素、带容差与 tests/golden/<name>.png 比较（字体渲染的细微差别不算）；不同时把实际的图留在 tmp_path。"""
    import numpy as np

    golden = GOLDEN / f"{name}.png"
    if UPDATE_GOLDEN:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_bytes(png)
    assert golden.is_file(), f"no golden image {golden}; run with UPDATE_GOLDEN=1"
    actual, expected = pixels(png), pixels(golden.read_bytes())
    assert actual.shape == expected.shape
    diff = np.abs(actual - expected)
    changed = float((diff.max(axis=2) > 40).mean())
    if diff.mean() > 0.5 or changed > 0.002:
        (tmp_path / f"{name}.actual.png").write_bytes(png)
        pytest.fail(f"{name}: mean diff {diff.mean():.3f}, {changed:.3%} pixels changed; actual in {tmp_path}")


def built_in(renderer: Any) -> Any:
    """内置类型绘制器在默认变体上的 TimeSeriesPlot（还没画过时先画一个空窗口）。"""
    page = renderer.page()
    if "plot" not in page.artists:
        renderer.render(None)
    return page.artists["plot"]


def shutdown_scheduler() -> None:
    """模块级调度器会被多个 app 共用（docs/pitfalls.md 第 2 条）：每个测试后关掉并清空任务。

    不用 shutdown(wait=True)：APScheduler 3 的 shutdown 拿着任务存储的锁等任务线程，而一个正在运行的重绘要 get_job
    （取实时间隔）也要这把锁，两边互相等，测试进程就永远停在这里（docs/pitfalls.md 第 43 条）。先暂停、shutdown(wait=False)，
    再在锁外等执行器的线程结束——暂停之前调度线程刚提交的那一次也等得到（只看正在运行的任务数会漏掉它）。"""
    if scheduler.running:
        executor = scheduler.scheduler._lookup_executor("default")
        scheduler.pause()
        # shutdown(wait=False) 不在锁里等任务线程；之后在锁外等它们结束（pause 之前刚提交的那次也算在内）
        scheduler.shutdown(wait=False)
        threads = list(executor._pool._threads)
        wait_for(lambda: not any(thread.is_alive() for thread in threads), 30, "redraws still running when the test ended",
                 step=0.02)  # fmt: skip
    scheduler.remove_all_jobs()


@pytest.fixture
def make_app() -> Iterator[Callable[..., Any]]:
    """创建测试用 app 的工厂；测试结束时关闭调度器。"""
    apps = []

    def factory(config: Any = "testing", **overrides: Any) -> Any:
        app = create_app(config, overrides)
        apps.append(app)
        return app

    yield factory
    shutdown_scheduler()
    for app in apps:
        shutdown.stop(app)
        with app.app_context():
            cache.clear()


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    """TestingConfig 的 app：调度器以暂停状态运行，任务只在被调用时运行。"""
    return make_app()


@pytest.fixture
def client(app: Any) -> Any:
    """测试客户端（来自 127.0.0.1）。"""
    return app.test_client()


def own(app: Any, chart: str, seconds: float = 3600) -> None:
    """让这个 app 成为图表的所有者（租约一小时）：测试直接调用 Redrawer.redraw 时，写共享窗口要检查所有权。"""
    coordinator = coordination.get(app)
    if coordinator.client is not None:
        lease = lease_ms(seconds)
        coordinator.client.set(coordinator.key(keys.lease(chart)), coordinator.me, px=lease)
        coordinator.owned[chart] = time.monotonic() + lease / 1000


def wait_for_process(process: subprocess.Popen, log: Path, probe: Callable[[], int], what: str, timeout: float = 60) -> None:
    """等到 probe() 返回 200；进程先退出时带着它的日志失败。"""

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}:\n{log.read_text()}")
        try:
            return probe() == 200
        except (requests.ConnectionError, requests.Timeout):
            # gunicorn 的主进程先监听端口，工作进程载入 app（含预热）之前连接只是排队：超时也算“还没起来”
            return False

    wait_for(up, timeout, f"{what} did not come up; log: {log}")


class RedisServer:
    """一个真实的 redis-server（回环地址上的空闲端口，不落盘）；可以停止后在同一端口重新启动。"""

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        self.program = require_program("redis-server", "Redis cache tests")
        self.port = free_port()
        self.workdir = workdir
        self.password = password
        self.process: subprocess.Popen | None = None
        self.url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        """能否连上。"""
        import redis

        client = redis.Redis(port=self.port, password=self.password, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        """启动并等到它回应 PING。"""
        self.process = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), *(["--requirepass", self.password] if self.password else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(self.ping, 10, "redis-server did not start")

    def stop(self) -> None:
        """停止（SIGTERM）并等它退出。"""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """整个测试会话共用的 redis-server。"""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """本测试独占的 redis-server（测试可以停止并重启它）。"""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """在空闲回环端口上启动一个真实的 PostgreSQL（initdb + pg_ctl；以 root 运行时切换到 postgres 用户）。"""
    import glob

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    pg_ctl = found[-1] if found else shutil.which("pg_ctl")
    if not pg_ctl:
        require_program("pg_ctl", "PostgreSQL tests (Debian package postgresql)")
    bindir = Path(pg_ctl).parent
    # 不用 pytest 的临时目录：它对 root 以外的用户不可进入（0700）
    workdir = Path(tempfile.mkdtemp(prefix="livechart-pg-"))
    data = workdir / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:
        # initdb 拒绝以 root 运行
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(workdir, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(workdir / "log"), "-w", "start"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Server:
    """一个正在运行的 python -m livechart 进程。"""

    url: str
    process: subprocess.Popen
    home: Path
    workdir: Path
    log: Path
    strace_log: Path | None

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET 服务器上的路径。"""
        return requests.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """以 JSON 方式 POST（/scheduler API 要求 application/json）。"""
        return requests.post(self.url + path, json=kwargs.pop("json", {}), timeout=10, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        """以 JSON 方式 PATCH。"""
        return requests.patch(self.url + path, timeout=10, **kwargs)

    def version(self, chart: str) -> int:
        """图表当前的版本号（读状态，不请求图片）。"""
        return self.get(f"/api/charts/{chart}").json()["version"]

    def stop(self) -> int:
        """发 SIGINT（如同 Ctrl+C）并等待退出；在 strace 下发给被跟踪的 python 子进程。"""
        if self.process.poll() is None:
            import psutil

            parent = psutil.Process(self.process.pid)
            targets = parent.children() if self.strace_log else [parent]
            for target in targets or [parent]:
                target.send_signal(signal.SIGINT)
            try:
                return self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait(5)
        return self.process.returncode


def start_server(tmp_path: Path, *, strace: bool = False, env: dict[str, str] | None = None) -> Server:
    """以临时工作目录和 HOME 启动真实的服务进程，等到它能提供图片。"""
    port = free_port()
    home, workdir = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    workdir.mkdir()
    log = tmp_path / "server.log"
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LIVECHART_CONFIG": "tests.e2e_config:E2EConfig",
        "LIVECHART_PORT": str(port),
        **(env or {}),
    }
    command = [sys.executable, "-m", "livechart"]
    strace_log = None
    if strace:
        strace_log = tmp_path / "strace.log"
        command = [
            require_program("strace", "watching the server for written files"),
            "-f",
            "-qq",
            # 在内核里按系统调用过滤（seccomp-bpf）：别的系统调用不再停下来交给 strace，服务快得多
            "--seccomp-bpf",
            "-e",
            "trace=open,openat,creat,rename,renameat,renameat2",
            "-o",
            str(strace_log),
            *command,
        ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=workdir, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, home, workdir, log, strace_log)
    wait_for_process(process, log, lambda: server.get("/plot.png").status_code, "server")
    return server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """每个测试一个真实的服务进程。"""
    running = start_server(tmp_path)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """浏览器测试共用的服务进程。"""
    running = start_server(tmp_path_factory.mktemp("shared-server"))
    yield running
    running.stop()
