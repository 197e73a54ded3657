"""livechart 提供的每个路由的 OpenAPI 3 文档（包括保留的 /scheduler 接口），由 /openapi.json 提供。

文档的内容以数据写在旁边的模块里：livechart/openapi_paths.py（每个操作一行的表）、
livechart/openapi_schemas.py（响应的模式）、livechart/openapi_jobs.py（任务请求体）。这里只把它们拼起来，
并按当前 app 填入随设置变化的部分：图表名和任务 id 以枚举列出，请求体与 jobspec.check_job / check_patch 的规则一致，
设置了凭据时写明 HTTP Basic。文档的文本是英文（参考文档）。

测试用 openapi-spec-validator 校验它，并用 schemathesis 的命令行（st run --checks all）对运行中的服务检查：
不得出现 5xx，符合文档的请求必须被接受，违反文档的必须被拒绝。
"""

from __future__ import annotations

import copy
from typing import Any

from livechart.jobspec import IntervalLimits
from livechart.openapi_jobs import add_job_body
from livechart.openapi_jobs import patch_job_body
from livechart.openapi_paths import BODY_TEXTS
from livechart.openapi_paths import ERROR_TEXTS
from livechart.openapi_paths import GUARDED
from livechart.openapi_paths import JSON
from livechart.openapi_paths import PARAMETERS
from livechart.openapi_paths import SCHEDULER
from livechart.openapi_paths import SERVICE
from livechart.openapi_paths import Operation
from livechart.openapi_paths import json_response
from livechart.openapi_schemas import SCHEMAS
from livechart.openapi_schemas import ref
from livechart.spec import job_id_for

INFO = {"title": "livechart", "version": "1.0", "description": "Matplotlib charts kept fresh in memory."}
BASIC = {"basic": {"type": "http", "scheme": "basic"}}


def _path_parameter(name: str, values: list[str]) -> dict[str, Any]:
    """必填的路径参数，取值只能是 values 之一。"""
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "enum": values}}


def _errors(codes: tuple[int, ...]) -> dict[str, Any]:
    """按状态码列出的 JSON 错误响应。"""
    return {str(code): json_response(ref("Error"), ERROR_TEXTS[code]) for code in codes}


def _operation(op: Operation, parameters: dict[str, Any], bodies: dict[str, Any], auth: bool) -> dict[str, Any]:
    """表里的一行 → 文档里的一个操作（按名字填入参数和请求体）。"""
    operation: dict[str, Any] = {"summary": op.summary, "responses": {**op.responses, **_errors(op.errors)}}
    if op.params:
        operation["parameters"] = [parameters[name] for name in op.params]
    if op.body:
        # 修改类请求的请求体：必须以 application/json 发送（否则 415）
        operation["requestBody"] = {"required": True, "description": BODY_TEXTS[op.body],
                                    "content": {JSON: {"schema": bodies[op.body]}}}  # fmt: skip
    if auth and GUARDED[0] in op.errors:
        operation["security"] = [{"basic": []}]
    return operation


def document(charts: list[str], *, limits: IntervalLimits, scheduler_api: bool = True, auth: bool = False) -> dict[str, Any]:
    """生成 OpenAPI 3.0 文档。scheduler_api：有没有 /scheduler 接口；auth：它是否要求 HTTP Basic 凭据。"""
    parameters = {
        **PARAMETERS,
        "chart": _path_parameter("name", charts),
        "job": _path_parameter("job_id", [job_id_for(chart) for chart in charts]),
    }
    bodies = {"add_job": add_job_body(charts, limits), "patch_job": patch_job_body(limits), "any": {"type": "object"}}
    auth = scheduler_api and auth
    paths: dict[str, Any] = {}
    for op in SERVICE + (SCHEDULER if scheduler_api else ()):
        paths.setdefault(op.path, {})[op.method] = _operation(op, parameters, bodies, auth)
    components: dict[str, Any] = {"schemas": SCHEMAS}
    if auth:
        components["securitySchemes"] = BASIC
    # 表和模式是模块里的常量：交出去的是副本，调用方改了也不影响下一次
    return copy.deepcopy({"openapi": "3.0.3", "info": INFO, "paths": paths, "components": components})
