"""schemathesis 对运行中的服务做模糊测试：不得出现 5xx，也不得出现与 /openapi.json 矛盾的响应。

覆盖文档中的每个操作，包括 /scheduler（会暂停、删除任务：用独立的服务进程）。两种方式：
schemathesis 的命令行（st run --checks all，与用户会运行的一样），以及直接用它的 Hypothesis 策略。
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_headers_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.conftest import Server
from tests.conftest import require_program
from tests.conftest import start_server

pytestmark = pytest.mark.e2e

# 语义校验（如 id 必须与 kwargs.chart 一致）无法完全写进 JSON Schema，
# 所以不检查“符合文档的数据一定被接受”；其余一致性检查全部运行
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("fuzz"))
    yield running
    running.stop()


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_every_operation_matches_the_document(fuzz_server: Server, mode: str) -> None:
    """对文档中的每个操作生成请求（合法的与故意不合法的），逐个检查响应。

    schemathesis 4 的 pytest 插件与 pytest 9 不兼容，所以直接用它的 Hypothesis 策略。
    """
    api = schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 20
    sent: dict[str, int] = {}
    for operation in operations:

        @settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
        def check(case: Any) -> None:
            sent[case.operation.label] = sent.get(case.operation.label, 0) + 1
            case.call_and_validate(checks=CHECKS)

        try:
            check()
        except Unsatisfiable:
            # 没有可以弄成不合法的参数或请求体（如 GET /）：负向模式下无事可做
            assert mode == "negative", f"{operation.label}: no valid request can be generated"
    # 确实发出了请求：正向模式下每个操作都有，负向模式下至少有请求体或参数的操作都有
    assert len(sent) >= (len(operations) if mode == "positive" else 10), sent
    assert sum(sent.values()) >= 100


# 与状态有关、并且照文档回答的失败：(schemathesis 的失败代码, 操作) → 原因。其余任何失败都让测试失败
STATE_DEPENDENT = {
    ("ST101", "GET /healthz"): "once the run has deleted a job or paused the scheduler, /healthz answers its documented "
    "503 naming the reason (a chart without a job is unhealthy); schemathesis counts every 5xx as a server error",
}
CREDENTIALS = {"LIVECHART_API_USER": "ops", "LIVECHART_API_PASSWORD": "s3cret"}


@pytest.mark.parametrize("protected", [False, True], ids=["loopback", "credentials"])
def test_schemathesis_cli_finds_nothing(tmp_path: Path, protected: bool) -> None:
    """真正的 st run --checks all（有界：每个操作 5 个例子，固定种子，一个工作线程）对真实的服务进程。

    --checks all 包括“符合文档的请求必须被接受”“违反文档的请求必须被拒绝”：/openapi.json 必须正好写明
    服务器接受什么。credentials：设置了 API 凭据时文档声明 HTTP Basic，ignored_auth 检查不带凭据的请求被拒绝。
    """
    cli = require_program(str(Path(sys.executable).with_name("st")), "the schemathesis command line, tests/requirements.txt")
    running = start_server(tmp_path, env=CREDENTIALS if protected else None)
    report = tmp_path / "report.json"
    auth = ["--auth", f"{CREDENTIALS['LIVECHART_API_USER']}:{CREDENTIALS['LIVECHART_API_PASSWORD']}"] if protected else []
    command = [cli, "run", f"{running.url}/openapi.json", "--checks", "all", "--max-examples", "5", "--seed", "1",
               "--workers", "1", "--generation-database", "none", "--request-timeout", "10", "--no-color",
               "--report", "json", "--report-json-path", str(report), *auth]  # fmt: skip
    try:
        finished = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    finally:
        running.stop()
    output = finished.stdout + finished.stderr
    assert report.exists(), output
    result = json.loads(report.read_text())
    assert result["complete"] and result["errors"] == [], output
    assert result["operations"]["tested"] == result["operations"]["total"] >= 21, output
    assert result["test_cases"]["generated"] >= 500, output
    found = {(failure["code"], operation) for failure in result["failures"] for operation in failure["operations"]}
    unexpected = found - set(STATE_DEPENDENT)
    assert not unexpected, f"schemathesis found {sorted(unexpected)}:\n{output}"
    assert finished.returncode == (1 if found else 0), output
