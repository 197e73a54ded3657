"""livechart 提供的每个路由的 OpenAPI 3 文档（包括保留的 /scheduler 接口），由 /openapi.json 提供。

文档按当前 app 生成：图表名和任务 id 以枚举列出。测试用 openapi-spec-validator 校验它，
并用 schemathesis 对运行中的服务做模糊测试：不得出现 5xx，也不得出现与文档矛盾的响应。
"""

from __future__ import annotations

from typing import Any

from livechart.export import DEFAULT_LIMIT
from livechart.export import FORMATS
from livechart.export import MAX_LIMIT
from livechart.spec import JOB_FUNC
from livechart.spec import job_id_for

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    """按状态码列出的 JSON 错误响应。"""
    text = {
        400: "invalid request (the message names the field)",
        401: "credentials required (HTTP Basic)",
        403: "refused: cross-site request, or no credentials and not a loopback client",
        404: "no such chart or job",
        409: "conflicts with the current state",
        413: "request body too large",
        415: "mutating requests must send Content-Type: application/json",
        503: "not available now",
    }
    return {str(code): _json(_ref("Error"), text[code]) for code in codes}


GUARDED = (401, 403)
# /api/charts/<name> 的每个字段（views.chart_status 产生的）
STATUS_FIELDS = ("name", "title", "image_url", "job_id", "interval", "paused", "next_run", "version", "rendered_at",
                 "render_ms", "width", "height", "bytes", "stale", "rendered_by", "last_error")  # fmt: skip
MUTATING = (400, *GUARDED, 413, 415)


def _operation(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, **extra}


def _optional_json_body() -> dict[str, Any]:
    """这些接口不需要请求体，但修改类请求必须以 application/json 发送，所以写明一个可选的 JSON 对象。"""
    return {"required": False, "content": {JSON: {"schema": {"type": "object"}}}}


def document(charts: list[str]) -> dict[str, Any]:
    """生成 OpenAPI 3.0 文档。"""
    chart = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}, "description": f"one of {charts}"}
    job = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}, "description": "redraw-<chart>"}
    stamp = {"name": "t", "in": "query", "required": False, "schema": {"type": "string"}, "description": "cache buster, ignored"}
    png = {
        "200": {
            "description": "the current PNG",
            "headers": {
                "ETag": {"schema": {"type": "string"}},
                "Cache-Control": {"schema": {"type": "string"}},
                "X-Livechart-Version": {"schema": {"type": "string"}},
            },
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        },
        "304": {"description": "not modified (If-None-Match)"},
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
    interval_props = {unit: {"type": "number", "minimum": 0} for unit in ("weeks", "days", "hours", "minutes", "seconds")}
    job_body = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "enum": [job_id_for(c) for c in charts]},
            "name": {"type": "string"},
            "func": {"type": "string", "enum": [JOB_FUNC]},
            "kwargs": {
                "type": "object",
                "properties": {"chart": {"type": "string", "enum": charts}},
                "required": ["chart"],
                "additionalProperties": False,
            },
            "trigger": {"type": "string", "enum": ["interval"]},
            "misfire_grace_time": {"type": "integer", "minimum": 1, "nullable": True},
            "coalesce": {"type": "boolean"},
            "jitter": {"type": "number", "minimum": 0, "nullable": True},
            "start_date": {"type": "string"},
            "end_date": {"type": "string"},
            **interval_props,
        },
        "additionalProperties": False,
    }
    patch_body = {**job_body, "properties": {k: v for k, v in job_body["properties"].items() if k != "id"}}
    paths: dict[str, Any] = {
        "/": {
            "get": _operation(
                "the page", {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}
            )
        },
        "/plot.png": {"get": _operation("the default chart (first in CHARTS)", png, parameters=[stamp])},
        "/charts/{name}.png": {"get": _operation("one chart's PNG", {**png, **_errors(404)}, parameters=[chart, stamp])},
        "/api/charts": {"get": _operation("status of every chart", {"200": _json(_ref("ChartsStatus"), "status")})},
        "/api/charts/{name}": {
            "get": _operation(
                "status of one chart", {"200": _json(_ref("ChartStatus"), "status"), **_errors(404)}, parameters=[chart]
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
                            JSON: {"schema": _ref("ChartData")},
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
                "healthy while the scheduler runs and no chart is stale or failing",
                {"200": _json(_ref("Health"), "healthy"), "503": _json(_ref("Health"), "unhealthy: names the charts")},
            )
        },
        "/readyz": {
            "get": _operation(
                "ready once every chart has an image",
                {"200": _json(_ref("Health"), "ready"), "503": _json(_ref("Health"), "not ready: names the charts")},
            )
        },
        "/metrics": {
            "get": _operation(
                "Prometheus metrics",
                {"200": {"description": "exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            )
        },
        "/openapi.json": {"get": _operation("this document", {"200": _json({"type": "object"}, "OpenAPI 3 document")})},
        "/scheduler": {"get": _operation("scheduler info", {"200": _json(_ref("SchedulerInfo"), "info"), **_errors(*GUARDED)})},
        "/scheduler/jobs": {
            "get": _operation("list jobs", {"200": _json({"type": "array", "items": _ref("Job")}, "jobs"), **_errors(*GUARDED)}),
            "post": _operation(
                "add a redraw job (only livechart.jobs:redraw for a configured chart)",
                {"200": _json(_ref("Job"), "the new job"), **_errors(409, *MUTATING)},
                requestBody={"required": True, "content": {JSON: {"schema": job_body}}},
            ),
        },
        "/scheduler/jobs/{job_id}": {
            "get": _operation("one job", {"200": _json(_ref("Job"), "the job"), **_errors(404, *GUARDED)}, parameters=[job]),
            "patch": _operation(
                'change a job, e.g. {"trigger": "interval", "seconds": 2}',
                {"200": _json(_ref("Job"), "the changed job"), **_errors(404, *MUTATING)},
                parameters=[job],
                requestBody={"required": True, "content": {JSON: {"schema": patch_body}}},
            ),
            "delete": _operation(
                "remove a job",
                {"204": {"description": "removed"}, **_errors(404, *MUTATING)},
                parameters=[job],
                requestBody=_optional_json_body(),
            ),
        },
    }
    for action, summary in (("pause", "pause a job"), ("resume", "resume a job"), ("run", "redraw now, in the request")):
        paths[f"/scheduler/jobs/{{job_id}}/{action}"] = {
            "post": _operation(
                summary,
                {"200": _json(_ref("Job"), "the job"), **_errors(404, *MUTATING)},
                parameters=[job],
                requestBody=_optional_json_body(),
            )
        }
    for action, summary, codes in (
        ("pause", "pause all job processing", (409,)),
        ("resume", "resume all job processing", (409,)),
        ("start", "start the scheduler", ()),
    ):
        paths[f"/scheduler/{action}"] = {
            "post": _operation(
                summary, {"204": {"description": "done"}, **_errors(*codes, *MUTATING)}, requestBody=_optional_json_body()
            )
        }
    paths["/scheduler/shutdown"] = {
        "post": _operation(
            "shut the scheduler down",
            {"204": {"description": "done"}, **_errors(*MUTATING)},
            requestBody={
                "required": False,
                "content": {JSON: {"schema": {"type": "object", "properties": {"wait": {"type": "boolean"}}}}},
            },
        )
    }
    nullable_string = {"type": "string", "nullable": True}
    schemas = {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            "additionalProperties": False,
        },
        "ChartStatus": {
            "type": "object",
            "required": list(STATUS_FIELDS),
            "properties": {
                "name": {"type": "string"},
                "title": {"type": "string"},
                "image_url": {"type": "string"},
                "job_id": {"type": "string"},
                "interval": {"type": "number", "nullable": True},
                "paused": {"type": "boolean"},
                "next_run": nullable_string,
                "version": {"type": "integer", "minimum": 0},
                "rendered_at": nullable_string,
                "render_ms": {"type": "number", "nullable": True},
                "width": {"type": "integer"},
                "height": {"type": "integer"},
                "bytes": {"type": "integer", "minimum": 0},
                "stale": {"type": "boolean"},
                "rendered_by": nullable_string,
                "last_error": {
                    "type": "object",
                    "nullable": True,
                    "required": ["message", "at", "consecutive_failures"],
                    "properties": {
                        "message": {"type": "string"},
                        "at": {"type": "string"},
                        "consecutive_failures": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
        "ChartsStatus": {
            "type": "object",
            "required": ["charts", "scheduler", "now"],
            "properties": {
                "charts": {"type": "array", "items": _ref("ChartStatus")},
                "scheduler": {"type": "object", "required": ["running"], "properties": {"running": {"type": "boolean"}}},
                "now": {"type": "string"},
            },
        },
        "ChartData": {
            "type": "object",
            "required": ["chart", "title", "version", "timezone", "columns", "series", "rows", "total"],
            "properties": {
                "chart": {"type": "string"},
                "title": {"type": "string"},
                "version": {"type": "integer", "minimum": 0},
                "timezone": {"type": "string"},
                "columns": {"type": "array", "items": {"type": "string"}},
                "series": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["column", "label", "axis"],
                        "properties": {
                            "column": {"type": "string"},
                            "label": {"type": "string"},
                            "axis": {"type": "string", "enum": ["left", "right"]},
                        },
                    },
                },
                "rows": {
                    "type": "array",
                    "items": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "number", "nullable": True}]}},
                },
                "total": {"type": "integer", "minimum": 0},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "unhealthy", "ready", "not_ready"]},
                "scheduler_running": {"type": "boolean"},
                "stale": {"type": "array", "items": {"type": "string"}},
                "failing": {"type": "array", "items": {"type": "string"}},
                "missing": {"type": "array", "items": {"type": "string"}},
            },
        },
        "SchedulerInfo": {
            "type": "object",
            "required": ["current_host", "allowed_hosts", "running"],
            "properties": {
                "current_host": {"type": "string"},
                "allowed_hosts": {"type": "array", "items": {"type": "string"}},
                "running": {"type": "boolean"},
            },
        },
        "Job": {
            "type": "object",
            "required": ["id", "name", "func", "args", "kwargs", "trigger"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "func": {"type": "string"},
                "args": {"type": "array"},
                "kwargs": {"type": "object"},
                "trigger": {"type": "string"},
                "start_date": {"type": "string"},
                "end_date": {"type": "string"},
                "misfire_grace_time": {"type": "integer", "nullable": True},
                "max_instances": {"type": "integer"},
                "next_run_time": nullable_string,
                **{unit: {"type": "integer"} for unit in ("weeks", "days", "hours", "minutes", "seconds")},
            },
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "livechart", "version": "1.0", "description": "Matplotlib charts kept fresh in memory."},
        "paths": paths,
        "components": {"schemas": schemas},
    }
