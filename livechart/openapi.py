"""livechart 提供的每个路由的 OpenAPI 3 文档（包括保留的 /scheduler 接口），由 /openapi.json 提供。

文档按当前 app 生成：图表名和任务 id 以枚举列出，请求体与 jobspec.check_job / check_patch 的规则一致，
设置了凭据时写明 HTTP Basic。测试用 openapi-spec-validator 校验它，并用 schemathesis 的命令行
（st run --checks all）对运行中的服务检查：不得出现 5xx，符合文档的请求必须被接受，违反文档的必须被拒绝。
"""

from __future__ import annotations

import math
from typing import Any

from livechart.export import DEFAULT_LIMIT
from livechart.export import FORMATS
from livechart.export import MAX_LIMIT
from livechart.jobspec import INTERVAL_ARGS
from livechart.jobspec import UNIT_SECONDS
from livechart.jobspec import IntervalLimits
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
        404: "no such chart or job (…/data also: a chart drawn by its own function without a source has no data)",
        409: "conflicts with the current state (the message says which)",
        413: "request body too large",
        415: "mutating requests must send Content-Type: application/json",
        424: "the job ran but the chart was not redrawn: its source or the drawing failed (the message says how)",
        503: "not available now: the shared cache (Redis) is unavailable, the chart has no image yet, or (POST …/run) "
        "the process that owns the chart did not answer in time",
    }
    return {str(code): _json(_ref("Error"), text[code]) for code in codes}


GUARDED = (401, 403)
# /api/charts/<name> 的每个字段（views.chart_status 产生的）
STATUS_FIELDS = ("name", "title", "image_url", "job_id", "interval", "paused", "next_run", "redrawing", "reason", "version",
                 "rendered_at", "render_ms", "width", "height", "title_in_image", "bytes", "stale", "rendered_by",
                 "last_error", "data_warnings")  # fmt: skip
# 修改类请求都可能得到的错误；503：多进程模式下 Redis 不可用（修改先写进 Redis）
MUTATING = (400, *GUARDED, 413, 415, 503)
REASON_CODES = ("no_job", "job_paused", "scheduler_paused", "scheduler_stopped")
# data_warnings 的 code（livechart/quality.py）
DATA_WARNING_CODES = ("future_rows", "values_out_of_range")


def _operation(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, **extra}


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """修改类请求的请求体：必须以 application/json 发送（否则 415）。"""
    return {"required": True, "description": description, "content": {JSON: {"schema": schema}}}


# 不需要内容的修改类请求：一个 JSON 对象（内容不用），空的请求体也可以，但仍要 Content-Type: application/json
ANY_OBJECT = _json_body(
    {"type": "object"}, "any JSON object (ignored); an empty body with Content-Type: application/json also works"
)


def _interval(limits: IntervalLimits) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """间隔单位的属性，以及“至少一个单位本身就不小于 LIVECHART_MIN_INTERVAL”的 anyOf。

    最小间隔不超过 60 秒（默认 1 秒）时这与服务器的规则（合计不小于最小间隔）完全一致；更大时文档更严：
    几个单位合起来才够的间隔（如最小 90 秒时的 1 分 30 秒）服务器接受，文档不算合法。
    """
    # 合计不超过 LIVECHART_MAX_INTERVAL 这一条 JSON Schema 写不出来：每个单位单独不超过它（说明里写明合计的规则）
    most = limits.unit_max()
    units = {
        unit: {
            "type": "integer",
            "minimum": 0,
            "maximum": most[unit],
            "description": f"the units together: {limits.low:g}–{limits.high:g} s",
        }
        for unit in INTERVAL_ARGS
    }
    enough = [
        {"required": [unit], "properties": {unit: {"minimum": max(1, math.ceil(limits.low / UNIT_SECONDS[unit]))}}}
        for unit in INTERVAL_ARGS
    ]
    return units, enough


def _job_bodies(charts: list[str], limits: IntervalLimits) -> tuple[dict[str, Any], dict[str, Any]]:
    """POST /scheduler/jobs 与 PATCH /scheduler/jobs/{job_id} 的请求体：与 jobspec.check_job / check_patch 一致。"""
    units, enough = _interval(limits)
    options = {
        "name": {"type": "string", "minLength": 1},
        "misfire_grace_time": {"type": "integer", "minimum": 1, "nullable": True},
        "coalesce": {"type": "boolean"},
    }
    # 每个图表一种：id 与 kwargs.chart 必须是同一个图表
    add = {
        "oneOf": [
            {
                "type": "object",
                "required": ["id", "func", "kwargs", "trigger"],
                "properties": {
                    "id": {"type": "string", "enum": [job_id_for(chart)]},
                    "func": {"type": "string", "enum": [JOB_FUNC]},
                    "kwargs": {
                        "type": "object",
                        "required": ["chart"],
                        "properties": {"chart": {"type": "string", "enum": [chart]}},
                        "additionalProperties": False,
                    },
                    "trigger": {"type": "string", "enum": ["interval"]},
                    **options,
                    **units,
                },
                "additionalProperties": False,
                "anyOf": enough,
            }
            for chart in charts
        ]
    }
    # GET 返回的只读字段：与当前值相同时忽略（next_run_time 总是忽略），不同则 400
    read_only = {
        "id": {"type": "string"},
        "func": {"type": "string"},
        "args": {"type": "array", "items": {}},
        "kwargs": {"type": "object"},
        "max_instances": {"type": "integer"},
        "next_run_time": {"type": "string", "nullable": True},
        "start_date": {"type": "string"},
    }
    no_unit = {"not": {"anyOf": [{"required": [unit]} for unit in INTERVAL_ARGS]}}
    patch = {
        "type": "object",
        "description": "the units given make the new interval (units left out count as 0); read-only fields as GET "
        "returns them are ignored when they equal the current value",
        "properties": {
            "trigger": {"type": "string", "enum": ["interval"]},
            **options,
            **units,
            **{key: {**schema, "readOnly": True} for key, schema in read_only.items()},
        },
        "additionalProperties": False,
        "anyOf": [no_unit, *enough],
    }
    return add, patch


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
    add_body, patch_body = _job_bodies(charts, limits)
    health = {"oneOf": [_ref("Health"), _ref("Error")]}
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
            "get": _operation("status of every chart", {"200": _json(_ref("ChartsStatus"), "status"), **_errors(503)})
        },
        "/api/charts/{name}": {
            "get": _operation(
                "status of one chart",
                {"200": _json(_ref("ChartStatus"), "status"), **_errors(404, 503)},
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
                "healthy while the scheduler runs and every chart has a job and is neither stale nor failing "
                "(a job paused by the user is healthy)",
                {"200": _json(_ref("Health"), "healthy"), "503": _json(health, "unhealthy: reasons says why")},
            )
        },
        "/readyz": {
            "get": _operation(
                "ready once every chart has an image",
                {"200": _json(_ref("Health"), "ready"), "503": _json(health, "not ready: names the charts")},
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
    components: dict[str, Any] = {"schemas": _schemas()}
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
        "/scheduler": {"get": _operation("scheduler info", {"200": _json(_ref("SchedulerInfo"), "info"), **_errors(*GUARDED)})},
        "/scheduler/jobs": {
            "get": _operation("list jobs", {"200": _json({"type": "array", "items": _ref("Job")}, "jobs"), **_errors(*GUARDED)}),
            "post": _operation(
                "add the redraw job of a chart that has none (only livechart.jobs:redraw, interval trigger)",
                {"200": _json(_ref("Job"), "the new job"), **_errors(409, *MUTATING)},
                requestBody=_json_body(add_body, "the job; id and kwargs.chart name the same chart"),
            ),
        },
        "/scheduler/jobs/{job_id}": {
            "get": _operation("one job", {"200": _json(_ref("Job"), "the job"), **_errors(404, *GUARDED)}, parameters=[job]),
            "patch": _operation(
                'change a job, e.g. {"seconds": 2}; what GET returns, changed and sent back, works too',
                {"200": _json(_ref("Job"), "the changed job"), **_errors(404, *MUTATING)},
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
                {"200": _json(_ref("Job"), "the job"), **_errors(404, *MUTATING)},
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
                    {"allOf": [_ref("Job"), {"type": "object", "required": ["run"], "properties": {"run": _ref("Run")}}]},
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


def _schemas() -> dict[str, Any]:
    """响应的模式。"""
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
                "paused": {"type": "boolean", "description": "not redrawing on schedule; reason says why"},
                "next_run": nullable_string,
                "redrawing": {"type": "boolean"},
                "reason": {
                    "type": "object",
                    "nullable": True,
                    "description": "why the chart is not redrawing (null while it is)",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string", "enum": list(REASON_CODES)}, "message": {"type": "string"}},
                    "additionalProperties": False,
                },
                "version": {"type": "integer", "minimum": 0},
                "rendered_at": nullable_string,
                "render_ms": {"type": "number", "nullable": True},
                "width": {"type": "integer"},
                "height": {"type": "integer"},
                "title_in_image": {"type": "boolean", "description": "the image carries the title (built-in kinds)"},
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
                "data_warnings": {
                    "type": "array",
                    "description": "problems in the data this process found while redrawing (empty when there are none): "
                    "rows dated too far ahead of the server clock that were dropped (counted once per time stamp since "
                    "start-up), values in the window that are infinite or too large to draw",
                    "items": {
                        "type": "object",
                        "required": ["code", "message", "count", "at", "row_time"],
                        "properties": {
                            "code": {"type": "string", "enum": list(DATA_WARNING_CODES)},
                            "message": {"type": "string"},
                            "count": {"type": "integer", "minimum": 1},
                            "at": {"type": "string", "description": "when it was last seen (UTC)"},
                            "row_time": {"type": "string", "description": "time of the latest offending row (server local time)"},
                        },
                        "additionalProperties": False,
                    },
                },
            },
        },
        "ChartsStatus": {
            "type": "object",
            "required": ["charts", "scheduler", "cache", "config", "config_error", "config_restart_needed", "now"],
            "properties": {
                "charts": {"type": "array", "items": _ref("ChartStatus")},
                "config": {
                    "type": "object",
                    "nullable": True,
                    "description": "the configuration module this process watches and reloads on save (docs/reload.md)",
                    "required": ["file", "watching", "reloaded_at"],
                    "properties": {
                        "file": {"type": "string", "nullable": True},
                        "watching": {"type": "boolean"},
                        "reloaded_at": {"type": "string", "nullable": True, "description": "last reload applied (UTC)"},
                    },
                    "additionalProperties": False,
                },
                "config_error": {
                    "type": "object",
                    "nullable": True,
                    "description": "the last save did not load: the running configuration stays until a valid save",
                    "required": ["message", "at", "file"],
                    "properties": {
                        "message": {"type": "string", "description": "as start-up would print it, secrets removed"},
                        "at": {"type": "string"},
                        "file": {"type": "string", "nullable": True},
                    },
                    "additionalProperties": False,
                },
                "config_restart_needed": {
                    "type": "object",
                    "nullable": True,
                    "description": "settings changed in the file that take effect only after a restart",
                    "required": ["settings", "message", "at"],
                    "properties": {
                        "settings": {"type": "array", "items": {"type": "string"}},
                        "message": {"type": "string"},
                        "at": {"type": "string", "nullable": True},
                    },
                    "additionalProperties": False,
                },
                "cache": {
                    "type": "object",
                    "description": "what this process last saw of the cache: ok, unavailable, or full (Redis refuses writes)",
                    "required": ["state"],
                    "properties": {"state": {"type": "string", "enum": ["ok", "unavailable", "full"]}},
                },
                "scheduler": {
                    "type": "object",
                    "required": ["running", "state"],
                    "properties": {
                        "running": {"type": "boolean"},
                        "state": {"type": "string", "enum": ["running", "paused", "stopped"]},
                    },
                },
                "now": {"type": "string"},
            },
        },
        "Run": {
            "type": "object",
            "required": ["rendered", "version", "render_ms"],
            "properties": {"rendered": {"type": "boolean"}, "version": {"type": "integer"}, "render_ms": {"type": "number"}},
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
                "no_job": {"type": "array", "items": {"type": "string"}},
                "paused": {"type": "array", "items": {"type": "string"}},
                "reasons": {"type": "array", "items": {"type": "string"}},
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
                "misfire_grace_time": {"type": "integer", "nullable": True},
                "max_instances": {"type": "integer"},
                "next_run_time": nullable_string,
                **{unit: {"type": "integer"} for unit in INTERVAL_ARGS},
            },
        },
    }
    return schemas
