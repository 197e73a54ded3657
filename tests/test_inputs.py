"""端到端：输入还不在（文件、数据库、HTTP 服务）不是配置错误——服务照常启动，图表报告问题，输入出现后恢复。"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from examples import writer
from tests.conftest import ROOT
from tests.conftest import Server
from tests.conftest import free_port
from tests.conftest import start_server
from tests.conftest import wait_for

pytestmark = pytest.mark.e2e

# 输入还不在的图表（demo 有数据）
FAILING = {"csv", "sqlite", "postgres", "http", "python"}


class ValueHandler(BaseHTTPRequestHandler):
    """稍后才启动的 JSON 接口：{"value": 42}。"""

    def do_GET(self) -> None:
        body = json.dumps({"value": 42}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def later_http() -> Iterator[dict[str, Any]]:
    """一个还没启动的 HTTP 服务的端口；测试调用 start() 后它才开始监听。"""
    port = free_port()
    servers: list[ThreadingHTTPServer] = []

    def start() -> None:
        server = ThreadingHTTPServer(("127.0.0.1", port), ValueHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)

    yield {"port": port, "start": start}
    for server in servers:
        server.shutdown()
        server.server_close()


def statuses(server: Server) -> dict[str, dict[str, Any]]:
    """每个图表的状态（/api/charts）。"""
    return {chart["name"]: chart for chart in server.get("/api/charts").json()["charts"]}


def test_missing_inputs_do_not_stop_the_service(tmp_path: Path, later_http: dict[str, Any]) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    csv_path, db_path = inputs / "log.csv", inputs / "orders.db"
    pg_port, http_port = free_port(), later_http["port"]
    env = {
        "LIVECHART_CONFIG": "tests.inputs_config:MissingInputsConfig",
        "LIVECHART_TEST_CSV": str(csv_path),
        "LIVECHART_TEST_DB": str(db_path),
        # 端口上没有任何服务：拒绝连接；URL 里的密码与查询参数不能出现在消息里
        "LIVECHART_TEST_PG_URL": f"postgresql+psycopg://reader:hunter2@127.0.0.1:{pg_port}/metrics?application_name=key-7f3a",
        "LIVECHART_TEST_HTTP_URL": f"http://127.0.0.1:{http_port}/metrics?token=s3cr3t",
    }
    # start_server 等到 /plot.png（第一个图表 demo）返回 200：服务启动了，有输入的图表照常绘制
    server = start_server(tmp_path, env=env)
    try:
        assert server.get("/charts/demo.png").content.startswith(b"\x89PNG")

        # 每个缺输入的图表都在状态里报告问题（预热时就记录了）
        def all_reported() -> dict[str, dict[str, Any]] | None:
            now = statuses(server)
            return now if all(now[n]["last_error"] for n in FAILING) else None

        found = wait_for(all_reported, 30, "charts with missing inputs did not report it")
        messages = {name: found[name]["last_error"]["message"] for name in FAILING}
        assert repr(str(csv_path)) in messages["csv"], messages
        assert repr(str(db_path)) in messages["sqlite"], messages
        # 公开的状态不带主机与端口（连接细节只进日志）
        assert "数据库服务器" in messages["postgres"] and "连不上（Connection refused）" in messages["postgres"], messages
        assert "HTTP 数据源" in messages["http"] and "连不上（Connection refused）" in messages["http"], messages
        assert not any(str(pg_port) in m or str(http_port) in m for m in messages.values()), messages
        assert "没有列 'z'（它返回的列：x, y）" in messages["python"], messages
        for secret in ("hunter2", "key-7f3a", "s3cr3t"):
            assert not any(secret in m for m in messages.values()), messages
        assert found["demo"]["last_error"] is None and found["demo"]["version"] >= 1

        # /healthz 列出这些图表；日志里有一行指明图表与路径
        health = server.get("/healthz")
        assert health.status_code == 503 and set(health.json()["failing"]) == FAILING, health.json()
        log = server.log.read_text()
        assert "csv" in log and str(csv_path) in log and str(db_path) in log
        assert f"127.0.0.1:{pg_port}" in log and f"127.0.0.1:{http_port}" in log
        # 输入暂时不在：每个图表一行警告，没有堆栈（livechart/failure_log.py）
        for name in ("csv", "sqlite", "postgres", "http"):
            assert log.count(f"图表 {name} 的输入暂时不可用") == 1, log
        assert log.count("Traceback") == 1, log  # 只有 python 图表（缺列是真正的错误）

        # 只读打开：服务从未建出一个空的 SQLite 库
        assert not db_path.exists()

        # 输入出现：这些图表在下一次重绘时恢复
        writer.write_csv(csv_path, 0)
        writer.write_sqlite(db_path, 0)
        later_http["start"]()
        recovered = {"csv", "sqlite", "http"}

        def all_recovered() -> dict[str, dict[str, Any]] | None:
            now = statuses(server)
            return (
                now
                if all(now[n]["version"] >= 1 and now[n]["last_error"]["consecutive_failures"] == 0 for n in recovered)
                else None
            )

        after = wait_for(all_recovered, 30, "charts did not recover after their inputs appeared")
        for name in recovered:
            image = server.get(f"/charts/{name}.png")
            assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        # 数据库服务器仍然不在、python 图表仍然缺列：它们继续报告
        assert after["postgres"]["last_error"]["consecutive_failures"] > 0
        assert after["python"]["last_error"]["consecutive_failures"] > 0
    finally:
        assert server.stop() == 0, server.log.read_text()


def test_a_real_configuration_error_still_stops_start_up(tmp_path: Path) -> None:
    """输入暂时不在之外的错误（这里：无法导入的函数）仍然让启动失败，只有一行消息。"""
    result = subprocess.run(
        [sys.executable, "-m", "livechart"],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PYTHONPATH": str(ROOT),
            "LIVECHART_CONFIG": "tests.inputs_config:UnimportableCallableConfig",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert (
        "livechart：配置错误：CHARTS['bad']：数据源参数 'callable'：无法导入 'tests.inputs_config:no_such_function'"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
