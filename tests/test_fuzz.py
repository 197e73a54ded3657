"""schemathesis 对运行中的服务做模糊测试：不得出现 5xx，也不得出现与 /openapi.json 矛盾的响应。

覆盖文档中的每个操作，包括 /scheduler（会暂停、删除任务，甚至关闭调度器：用独立的服务进程）。
"""

from __future__ import annotations

from collections.abc import Iterator
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
