"""日志与响应头：失败只记一次、恢复记一行、启动时一行说明在运行什么；gunicorn 直接运行时不悄悄用开发配置；一个 Date。"""

from __future__ import annotations

import http.client
import logging
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from livechart import keys
from livechart.failure_log import FailureLog
from livechart.sources import InputUnavailable
from tests.conftest import ROOT
from tests.conftest import RedisServer
from tests.conftest import Server
from tests.conftest import free_port
from tests.conftest import start_server
from tests.conftest import wait_for


class Clock:
    """可以拨动的时钟。"""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def chart_log(caplog: pytest.LogCaptureFixture) -> tuple[logging.Logger, pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG, logger="test.failures")
    return logging.getLogger("test.failures"), caplog


def test_a_failing_chart_logs_its_traceback_once_then_a_summary_a_minute(chart_log: tuple) -> None:
    logger, caplog = chart_log
    clock = Clock()
    failures = FailureLog("cpu", clock=clock)
    for _ in range(60):  # 第 0 到 59 秒
        failures.failed(RuntimeError("boom"), logger)
        clock.now += 1
    # 第一次：完整的堆栈；之后 59 秒里什么都不写
    assert len(caplog.records) == 1
    assert caplog.records[0].levelno == logging.ERROR and caplog.records[0].exc_info is not None
    assert "cpu" in caplog.records[0].getMessage()
    failures.failed(RuntimeError("boom again"), logger)
    assert len(caplog.records) == 2
    summary = caplog.records[1]
    assert summary.levelno == logging.WARNING and summary.exc_info is None
    assert "已持续 1 分钟，上次记录后又失败 60 次" in summary.getMessage() and "boom again" in summary.getMessage()
    # 又一分钟之内：没有新行
    for _ in range(30):
        clock.now += 1
        failures.failed(RuntimeError("boom"), logger)
    assert len(caplog.records) == 2


def test_a_new_kind_of_failure_is_logged_and_recovery_is_one_line(chart_log: tuple) -> None:
    logger, caplog = chart_log
    clock = Clock()
    failures = FailureLog("demo", clock=clock)
    failures.recovered(logger)  # 没在失败：什么都不写
    assert caplog.records == []
    failures.failed(RuntimeError("one"), logger)
    clock.now += 1
    failures.failed(KeyError("other"), logger)
    assert [r.exc_info is not None for r in caplog.records] == [True, True]
    clock.now += 5
    failures.recovered(logger)
    failures.recovered(logger)
    assert len(caplog.records) == 3
    assert caplog.records[2].getMessage() == "图表 demo 已恢复：失败了 2 次，持续 6 秒"
    assert not failures.failing


def test_an_input_that_is_not_there_yet_is_one_warning_without_traceback(chart_log: tuple) -> None:
    logger, caplog = chart_log
    failures = FailureLog("orders", clock=Clock())
    failures.failed(InputUnavailable("file '/tmp/x.csv' does not exist yet"), logger)
    failures.failed(InputUnavailable("file '/tmp/x.csv' does not exist yet"), logger)
    assert len(caplog.records) == 1
    record = caplog.records[0]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "orders" in record.getMessage() and "/tmp/x.csv" in record.getMessage()


def chart(server: Server, name: str) -> dict:
    return server.get(f"/api/charts/{name}").json()


@pytest.mark.e2e
def test_the_server_log_stays_calm_while_a_chart_fails_and_says_when_it_recovers(tmp_path: Path) -> None:
    flag = tmp_path / "fail"
    flag.touch()
    server = start_server(tmp_path, env={"LIVECHART_CONFIG": "tests.e2e_config:FlakyE2EConfig", "LIVECHART_TEST_FLAG": str(flag)})
    try:
        wait_for(lambda: (chart(server, "flaky")["last_error"] or {}).get("consecutive_failures", 0) >= 5, 20, "five failures")
        log = server.log.read_text()
        assert log.count("Traceback") == 1, log
        assert len(re.findall(r"(WARNING|ERROR) livechart: 图表 flaky", log)) == 1, log
        # 每次渲染一行只在 DEBUG 级别
        assert not re.search(r"图表 \w+ 第 \d+ 版", log), log
        flag.unlink()
        wait_for(lambda: chart(server, "flaky")["last_error"]["consecutive_failures"] == 0, 10, "recovery")
        version = chart(server, "flaky")["version"]
        wait_for(lambda: chart(server, "flaky")["version"] >= version + 2, 10, "two more renders")
        log = server.log.read_text()
        assert log.count("图表 flaky 已恢复") == 1, log
        assert log.count("Traceback") == 1, log
    finally:
        server.stop()


@pytest.mark.e2e
def test_one_start_up_line_says_what_runs(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        lines = [line for line in server.log.read_text().splitlines() if "livechart 配置" in line]
        assert len(lines) == 1, lines
        assert lines[0].endswith(
            "livechart 配置 tests.e2e_config.E2EConfig；缓存 SimpleCache（仅本进程）；角色 all；调度器 running；"
            "任务 redraw-cpu 每 1 秒（配置文件）、redraw-demo 每 1 秒（配置文件）"
        ), lines[0]
    finally:
        server.stop()


def date_headers(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """原始 HTTP 响应里的全部 Date 头（requests 会把同名的头合并）。"""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, [value for name, value in response.getheaders() if name.lower() == "date"]
    finally:
        connection.close()


@pytest.mark.e2e
def test_the_development_server_sends_one_date_header(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        etag = server.get("/plot.png").headers["ETag"]
        for path, headers, status in [
            ("/plot.png", {}, 200),
            ("/charts/demo.png", {}, 200),
            ("/plot.png", {"If-None-Match": etag}, 304),
            ("/api/charts", {}, 200),
            ("/", {}, 200),
        ]:
            got, dates = date_headers(server.url, path, headers)
            if path == "/plot.png" and headers and got == 200:
                continue  # 刚好换了一版
            assert got == status, path
            assert len(dates) == 1, (path, dates)
    finally:
        server.stop()


def run_gunicorn_directly(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path, str]:
    """像用户那样直接运行 gunicorn livechart.wsgi:app（不用 make run-prod 的配置文件，不设 LIVECHART_CONFIG）。"""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    command = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "livechart.wsgi:app"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=tmp_path, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    return process, log, f"http://127.0.0.1:{port}"


@pytest.mark.e2e
def test_gunicorn_run_directly_with_a_redis_url_uses_redis_and_never_shows_its_password(tmp_path: Path) -> None:
    password = "pw-that-must-not-be-logged"
    server = RedisServer(tmp_path, password=password)
    server.start()
    process, log, url = run_gunicorn_directly(
        tmp_path, {"LIVECHART_REDIS_URL": server.url, "LIVECHART_API_USER": "ops", "LIVECHART_API_PASSWORD": "secret"}
    )
    try:
        import requests

        def ready() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return requests.get(url + "/readyz", timeout=2).status_code == 200
            except (requests.ConnectionError, requests.Timeout):
                return False  # 工作进程还在载入 app：连接在排队

        wait_for(ready, 60, "gunicorn")
        client = redis.Redis(port=server.port, password=password)
        # 两个工作进程共用 Redis：图片在 Redis 里，而不是各进程自己的 SimpleCache
        assert client.keys("livechart:" + keys.image("cpu")), "the image is not in Redis"
        client.close()
        # 每个工作进程一行（/readyz 由先起来的那个回答，另一个可能还在启动）
        wait_for(lambda: log.read_text().count("livechart 配置") == 2, 30, "both workers' start-up lines")
        text = log.read_text()
        lines = [line for line in text.splitlines() if "livechart 配置" in line]
        assert all("config.ProductionConfig" in line and f"RedisCache 127.0.0.1:{server.port} db 0" in line for line in lines)
        assert password not in text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
        server.stop()


@pytest.mark.e2e
def test_gunicorn_run_directly_without_credentials_refuses_in_one_line(tmp_path: Path) -> None:
    process, log, _ = run_gunicorn_directly(tmp_path, {})
    try:
        code = process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert code != 0, text
    assert "livechart：配置错误：没有设置 LIVECHART_API_USER / LIVECHART_API_PASSWORD" in text, text
    # livechart 自己不打印堆栈（gunicorn 27 的主进程在两个工作进程同时失败时会打印它自己的 HaltServer 堆栈）
    assert "/livechart/" not in text and "ConfigError" not in text, text


@pytest.mark.e2e
def test_the_start_up_url_of_an_ipv6_address_has_brackets(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6")
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "LIVECHART_HOST": "::1",
        "LIVECHART_PORT": str(port),
        "HOME": str(tmp_path),
    }
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "livechart"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: "请打开" in log.read_text() or process.poll() is not None, 60, "the start-up line")
        assert f"请打开 http://[::1]:{port}/" in log.read_text(), log.read_text()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(15)
