"""OpenAPI 文档（livechart/openapi.py 及其表 livechart/openapi_paths.py）：合法、与 app 的路由一致、跟随设置。

对运行中的服务的 schemathesis 检查在 tests/test_fuzz.py。
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from livechart import openapi
from livechart.jobspec import IntervalLimits
from livechart.openapi_paths import SCHEDULER
from livechart.openapi_paths import SERVICE


def test_openapi_document_is_valid(client: Any) -> None:
    document = client.get("/openapi.json").get_json()
    validate(document)


def routes(app: Any) -> set[tuple[str, str]]:
    """app 提供的每个（路径, 方法），路径写成 OpenAPI 的样子（<name> → {name}）。"""
    return {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    """文档里的每个（路径, 方法）。"""
    return {(path, method) for path, operations in document["paths"].items() for method in operations}


@pytest.mark.parametrize("overrides", [{}, {"SCHEDULER_API_ENABLED": False}], ids=["scheduler_api", "no_scheduler_api"])
def test_openapi_documents_exactly_the_routes_and_methods(make_app: Any, overrides: dict[str, Any]) -> None:
    """每个路由和方法都在文档里，文档里也没有 app 不提供的（表里多出的或写错的一行）。"""
    app = make_app("testing", **overrides)
    document = app.test_client().get("/openapi.json").get_json()
    assert routes(app) - documented(document) == set(), "routes missing from the document"
    assert documented(document) - routes(app) == set(), "documented operations the app does not serve"


def test_openapi_table_has_one_row_per_operation() -> None:
    """表里同一个（路径, 方法）出现两次时，后一行会悄悄盖掉前一行。"""
    rows = [(op.path, op.method) for op in SERVICE + SCHEDULER]
    assert len(rows) == len(set(rows)), sorted(row for row in rows if rows.count(row) > 1)


def test_openapi_each_document_is_a_fresh_copy() -> None:
    """表和模式是模块里的常量：改动交出去的文档，不得影响下一次生成的文档。"""
    first = openapi.document(["cpu"], limits=IntervalLimits())
    text = json.dumps(first)
    first["paths"]["/"]["get"]["summary"] = "changed"
    first["components"]["schemas"]["Error"]["required"].append("changed")
    patch = first["paths"]["/scheduler/jobs/{job_id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    patch["properties"]["trigger"]["enum"].append("cron")
    first["paths"]["/api/charts/{name}/data"]["get"]["parameters"][1]["schema"]["enum"].append("xml")
    assert json.dumps(openapi.document(["cpu"], limits=IntervalLimits())) == text


def test_openapi_job_bodies_list_every_interval_argument_and_option(client: Any) -> None:
    from livechart.jobspec import INTERVAL_ARGS
    from livechart.jobspec import JOB_KEYS
    from livechart.jobspec import PATCH_KEYS
    from livechart.jobspec import READ_ONLY

    paths = client.get("/openapi.json").get_json()["paths"]
    add = paths["/scheduler/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    # 每个图表一种请求体：id 与 kwargs.chart 是同一个图表
    assert [v["properties"]["id"]["enum"] for v in add["oneOf"]] == [["redraw-cpu"], ["redraw-demo"]]
    for variant in add["oneOf"]:
        assert set(variant["properties"]) == set(JOB_KEYS + INTERVAL_ARGS)
    patch = paths["/scheduler/jobs/{job_id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(patch["properties"]) == set(PATCH_KEYS + INTERVAL_ARGS + READ_ONLY)
    assert {k for k, v in patch["properties"].items() if v.get("readOnly")} == set(READ_ONLY)


def test_openapi_mutating_operations_require_a_json_body(client: Any) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    mutating = [(path, method, op) for path, ops in paths.items() for method, op in ops.items() if method != "get"]
    assert len(mutating) == 10
    for path, method, operation in mutating:
        body = operation["requestBody"]
        assert body["required"] is True and list(body["content"]) == ["application/json"], (method, path)
        assert "415" in operation["responses"], (method, path)


def test_openapi_follows_the_settings(make_app: Any) -> None:
    import config

    slow = [{**job, "seconds": 5} for job in config.Config.JOBS]
    secured = make_app("testing", LIVECHART_API_USER="ops", LIVECHART_API_PASSWORD="s3cret", LIVECHART_MIN_INTERVAL=5, JOBS=slow)
    document = secured.test_client().get("/openapi.json").get_json()
    validate(document)
    assert document["components"]["securitySchemes"] == {"basic": {"type": "http", "scheme": "basic"}}
    assert document["paths"]["/scheduler/jobs"]["get"]["security"] == [{"basic": []}]
    assert "security" not in document["paths"]["/api/charts"]["get"]
    variant = document["paths"]["/scheduler/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert {"required": ["seconds"], "properties": {"seconds": {"minimum": 5}}} in variant["anyOf"]

    from tests.conftest import shutdown_scheduler

    shutdown_scheduler()
    closed = make_app("testing", SCHEDULER_API_ENABLED=False).test_client().get("/openapi.json").get_json()
    assert not [path for path in closed["paths"] if path.startswith("/scheduler")]
