"""/scheduler 的 HTTP Basic 凭据：按 RFC 7617 用 UTF-8，非 ASCII 的密码用 curl -u 也能通过。"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_program
from tests.conftest import start_server

pytestmark = pytest.mark.e2e

USER, PASSWORD = "运维", "pässwörd-密码"


def curl(url: str, *args: str) -> tuple[int, str]:
    """用真实的 curl 请求，返回 (状态码, 响应头)。"""
    program = require_program("curl", "sending Basic credentials in UTF-8 as users do")
    result = subprocess.run(
        [program, "-s", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", *args, url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return int(result.stdout[-3:]), result.stdout[:-3]


def test_a_non_ascii_password_works_with_curl(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"LIVECHART_API_USER": USER, "LIVECHART_API_PASSWORD": PASSWORD})
    try:
        assert curl(server.url + "/scheduler/jobs", "-u", f"{USER}:{PASSWORD}")[0] == 200
        status, headers = curl(server.url + "/scheduler/jobs", "-u", f"{USER}:wrong")
        assert status == 401
        assert 'charset="UTF-8"' in headers
        assert curl(server.url + "/scheduler/jobs", "-u", f"{USER}:{PASSWORD[:-1]}")[0] == 401
    finally:
        server.stop()
