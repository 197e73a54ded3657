"""livechart 提供的每个路由的 OpenAPI 3 文档（包括保留的 /scheduler 接口），由 /openapi.json 提供。

文档按当前 app 生成：图表名和任务 id 以枚举列出，请求体与 spec.check_job / check_patch 的规则一致，
设置了凭据时写明 HTTP Basic。测试用 openapi-spec-validator 校验它，并用 schemathesis 的命令行
（st run --checks all）对运行中的服务检查：不得出现 5xx，符合文档的请求必须被接受，违反文档的必须被拒绝。
"""

from __future__ import annotations

import copy
from typing import Any

from livechart.export import DEFAULT_LIMIT
from livechart.export import FORMATS
from livechart.export import MAX_LIMIT
from livechart.openapi_jobs import add_job_body
from livechart.openapi_jobs import patch_job_body
from livechart.openapi_schemas import SCHEMAS
from livechart.openapi_schemas import ref
from livechart.spec import IntervalLimits
from livechart.spec import job_id_for

JSON = "application/json"


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    """按状态码列出的 JSON 错误响应。"""
    text = {
        400: "invalid request (the message names the field)",
        401: "credentials required (HTTP Basic)",
        403: "refused: cross-site request, or no credentials and not a loopback client",
        404: "no such chart or job (…/data also: a chart drawn by its own function without a source has no data)",
        409: "conflicts with the current state (the message says which)",
        413: "request body too large",
        415: "mutating requests must send Content-Type: application/json",
        424: "the job ran but the chart was not redrawn: its source or the drawing failed (the message says how)",
        503: "not available now: the shared cache (Redis) is unavailable, the chart has no image yet, or (POST …/run) "
        "the process that owns the chart did not answer in time",
    }
    return {str(code): _json(ref("Error"), text[code]) for code in codes}


GUARDED = (401, 403)
# 修改类请求都可能得到的错误；503：多进程模式下 Redis 不可用（修改先写进 Redis）
MUTATING = (400, *GUARDED, 413, 415, 503)


def _operation(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, **extra}


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """修改类请求的请求体：必须以 application/json 发送（否则 415）。"""
    return {"required": True, "description": description, "content": {JSON: {"schema": schema}}}


# 不需要内容的修改类请求：一个 JSON 对象（内容不用），空的请求体也可以，但仍要 Content-Type: application/json
ANY_OBJECT = _json_body(
    {"type": "object"}, "any JSON object (ignored); an empty body with Content-Type: application/json also works"
)


def document(charts: list[str], *, limits: IntervalLimits, scheduler_api: bool = True, auth: bool = False) -> dict[str, Any]:
    """生成 OpenAPI 3.0 文档。scheduler_api：有没有 /scheduler 接口；auth：它是否要求 HTTP Basic 凭据。"""
    chart = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": charts}}
    job = {
        "name": "job_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": [job_id_for(c) for c in charts]},
    }
    stamp = {
        "name": "t",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "cache buster (the page sends the time the version it asks for is due); ignored",
    }
    png = {
        "200": {
            "description": "the current PNG",
            "headers": {
                "ETag": {"schema": {"type": "string"}},
                "Last-Modified": {"schema": {"type": "string"}},
                "Cache-Control": {"schema": {"type": "string"}},
                "X-Livechart-Version": {"schema": {"type": "string"}},
                "X-Livechart-Rendered-At": {
                    "schema": {"type": "string"},
                    "description": "when this image was drawn, epoch milliseconds (Last-Modified has whole seconds)",
                },
            },
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        },
        "304": {
            "description": "not modified: If-None-Match names the current ETag, or (without If-None-Match) "
            "If-Modified-Since is later than the moment the current image was drawn"
        },
        **_errors(503),
    }
    data_params = [
        {
            "name": "format",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(FORMATS), "default": "json"},
        },
        {
            "name": "since",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "format": "date-time"},
            "description": "only rows after this time (exclusive); ISO 8601, without an offset it is the server's local time",
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            "description": "at most this many rows: the last ones after `since`",
        },
    ]
    add_body, patch_body = add_job_body(charts, limits), patch_job_body(limits)
    health = {"oneOf": [ref("Health"), ref("Error")]}
    paths: dict[str, Any] = {
        "/": {
            "get": _operation(
                "the page", {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}
            )
        },
        "/plot.png": {"get": _operation("the default chart (first in CHARTS)", png, parameters=[stamp])},
        "/charts/{name}.png": {
            "get": _operation(
                "one chart's PNG. name may carry a variant: <chart>[.light|.dark][.narrow][@2x], e.g. cpu.dark@2x "
                "(a variant asked for in the last 5 minutes is redrawn in the background; its first request draws it)",
                {**png, **_errors(404)},
                parameters=[chart, stamp],
            )
        },
        "/api/charts": {
            "get": _operation("status of every chart", {"200": _json(ref("ChartsStatus"), "status"), **_errors(503)})
        },
        "/api/charts/{name}": {
            "get": _operation(
                "status of one chart",
                {"200": _json(ref("ChartStatus"), "status"), **_errors(404, 503)},
                parameters=[chart],
            )
        },
        "/api/charts/{name}/data": {
            "get": _operation(
                "the rolling window the chart is drawn from (JSON, or CSV with ?format=csv)",
                {
                    "200": {
                        "description": "the rows after `since` (exclusive), the last `limit` of them",
                        "headers": {
                            "ETag": {"schema": {"type": "string"}},
                            "Cache-Control": {"schema": {"type": "string"}},
                            "X-Livechart-Version": {"schema": {"type": "string"}},
                            "X-Livechart-Total": {"schema": {"type": "string"}},
                        },
                        "content": {
                            JSON: {"schema": ref("ChartData")},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "304": {"description": "not modified (If-None-Match)"},
                    **_errors(400, 404, 503),
                },
                parameters=[chart, *data_params],
            )
        },
        "/healthz": {
            "get": _operation(
                "healthy while the scheduler runs and every chart has a job and is neither stale nor failing "
                "(a job paused by the user is healthy)",
                {"200": _json(ref("Health"), "healthy"), "503": _json(health, "unhealthy: reasons says why")},
            )
        },
        "/readyz": {
            "get": _operation(
                "ready once every chart has an image",
                {"200": _json(ref("Health"), "ready"), "503": _json(health, "not ready: names the charts")},
            )
        },
        "/metrics": {
            "get": _operation(
                "Prometheus metrics",
                {"200": {"description": "exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            )
        },
        "/openapi.json": {"get": _operation("this document", {"200": _json({"type": "object"}, "OpenAPI 3 document")})},
    }
    if scheduler_api:
        paths.update(_scheduler_paths(job, add_body, patch_body))
        if auth:
            for operations in paths.values():
                for operation in operations.values():
                    if GUARDED[0] in map(int, operation["responses"]):
                        operation["security"] = [{"basic": []}]
    components: dict[str, Any] = {"schemas": copy.deepcopy(SCHEMAS)}
    if scheduler_api and auth:
        components["securitySchemes"] = {"basic": {"type": "http", "scheme": "basic"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "livechart", "version": "1.0", "description": "Matplotlib charts kept fresh in memory."},
        "paths": paths,
        "components": components,
    }


def _scheduler_paths(job: dict[str, Any], add_body: dict[str, Any], patch_body: dict[str, Any]) -> dict[str, Any]:
    """/scheduler 的接口（Flask-APScheduler 的路由；修改由 livechart.control 执行）。"""
    paths: dict[str, Any] = {
        "/scheduler": {"get": _operation("scheduler info", {"200": _json(ref("SchedulerInfo"), "info"), **_errors(*GUARDED)})},
        "/scheduler/jobs": {
            "get": _operation("list jobs", {"200": _json({"type": "array", "items": ref("Job")}, "jobs"), **_errors(*GUARDED)}),
            "post": _operation(
                "add the redraw job of a chart that has none (only livechart.jobs:redraw, interval trigger)",
                {"200": _json(ref("Job"), "the new job"), **_errors(409, *MUTATING)},
                requestBody=_json_body(add_body, "the job; id and kwargs.chart name the same chart"),
            ),
        },
        "/scheduler/jobs/{job_id}": {
            "get": _operation("one job", {"200": _json(ref("Job"), "the job"), **_errors(404, *GUARDED)}, parameters=[job]),
            "patch": _operation(
                'change a job, e.g. {"seconds": 2}; what GET returns, changed and sent back, works too',
                {"200": _json(ref("Job"), "the changed job"), **_errors(404, *MUTATING)},
                parameters=[job],
                requestBody=_json_body(patch_body, "the changes"),
            ),
            "delete": _operation(
                "remove a job (the chart stops redrawing; status and /healthz say so)",
                {"204": {"description": "removed"}, **_errors(404, *MUTATING)},
                parameters=[job],
                requestBody=ANY_OBJECT,
            ),
        },
    }
    for action, summary in (("pause", "pause a job"), ("resume", "resume a job")):
        paths[f"/scheduler/jobs/{{job_id}}/{action}"] = {
            "post": _operation(
                summary,
                {"200": _json(ref("Job"), "the job"), **_errors(404, *MUTATING)},
                parameters=[job],
                requestBody=ANY_OBJECT,
            )
        }
    paths["/scheduler/jobs/{job_id}/run"] = {
        "post": _operation(
            "redraw now, in the request: 200 with the new version, 424 when the source or the drawing failed, "
            "409 while another redraw of the chart is in progress, 503 when the cache cannot store it",
            {
                "200": _json(
                    {"allOf": [ref("Job"), {"type": "object", "required": ["run"], "properties": {"run": ref("Run")}}]},
                    "redrawn",
                ),
                **_errors(404, 409, 424, *MUTATING),
            },
            parameters=[job],
            requestBody=ANY_OBJECT,
        )
    }
    for action, summary in (
        ("pause", "pause all job processing in this process (409 when the scheduler is not started)"),
        ("resume", "resume all job processing in this process (409 when the scheduler is not started)"),
        ("start", 'start a scheduler that is not started (LIVECHART_SCHEDULER = "off"); 409 otherwise'),
    ):
        paths[f"/scheduler/{action}"] = {
            "post": _operation(summary, {"204": {"description": "done"}, **_errors(409, *MUTATING)}, requestBody=ANY_OBJECT)
        }
    paths["/scheduler/shutdown"] = {
        "post": _operation(
            "refused (409): shutting APScheduler down is final; use /scheduler/pause and /scheduler/resume",
            _errors(409, *MUTATING),
            requestBody=ANY_OBJECT,
        )
    }
    return paths
