"""OpenAPI 文档里响应的模式（components.schemas），以数据写出；文本是英文（参考文档，见 livechart/openapi.py）。

这里只有常量：每个响应一个模式，由 livechart.openapi.document 放进 components.schemas。
它们与产生这些 JSON 的代码一一对应：ChartStatus ← views.chart_status，ChartsStatus ← /api/charts，
Health ← ops.healthz / readyz，Job ← Flask-APScheduler 的任务 JSON，Error ← errors.json_error。
"""

from __future__ import annotations

from typing import Any

from livechart.jobspec import INTERVAL_ARGS
from livechart.views import REASON_CODES


def ref(name: str) -> dict[str, str]:
    """指向 components.schemas 里一个模式的 $ref。"""
    return {"$ref": f"#/components/schemas/{name}"}


# /api/charts/<name> 的每个字段（views.chart_status 产生的）
STATUS_FIELDS = ("name", "title", "image_url", "job_id", "interval", "paused", "next_run", "redrawing", "reason", "version",
                 "rendered_at", "render_ms", "width", "height", "title_in_image", "bytes", "stale", "rendered_by",
                 "last_error", "data_warnings", "source_stats")  # fmt: skip
# data_warnings 的 code（livechart/quality.py）
DATA_WARNING_CODES = ("future_rows", "values_out_of_range")

NULLABLE_STRING = {"type": "string", "nullable": True}

ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    "additionalProperties": False,
}

# ChartStatus 的三个嵌套字段：不在重绘的原因、最近一次失败、数据问题
_REASON = {
    "type": "object",
    "nullable": True,
    "description": "why the chart is not redrawing (null while it is)",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string", "enum": list(REASON_CODES)}, "message": {"type": "string"}},
    "additionalProperties": False,
}
_LAST_ERROR = {
    "type": "object",
    "nullable": True,
    "required": ["message", "at", "consecutive_failures"],
    "properties": {
        "message": {"type": "string"},
        "at": {"type": "string"},
        "consecutive_failures": {"type": "integer", "minimum": 0},
    },
}
_DATA_WARNINGS = {
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
}
CHART_STATUS = {
    "type": "object",
    "required": list(STATUS_FIELDS),
    "properties": {
        "name": {"type": "string"},
        "title": {"type": "string"},
        "image_url": {"type": "string"},
        "job_id": {"type": "string"},
        "interval": {"type": "number", "nullable": True},
        "paused": {"type": "boolean", "description": "not redrawing on schedule; reason says why"},
        "next_run": NULLABLE_STRING,
        "redrawing": {"type": "boolean"},
        "reason": _REASON,
        "version": {"type": "integer", "minimum": 0},
        "rendered_at": NULLABLE_STRING,
        "render_ms": {"type": "number", "nullable": True},
        "width": {"type": "integer"},
        "height": {"type": "integer"},
        "title_in_image": {"type": "boolean", "description": "the image carries the title (built-in kinds)"},
        "bytes": {"type": "integer", "minimum": 0},
        "stale": {"type": "boolean"},
        "rendered_by": NULLABLE_STRING,
        "last_error": _LAST_ERROR,
        "data_warnings": _DATA_WARNINGS,
        "source_stats": {
            "type": "object",
            "description": "the data source's own counters in this process since it started, e.g. malformed_rows: CSV "
            "lines skipped because they could not be parsed (empty for sources without counters)",
            "additionalProperties": {"type": "integer", "minimum": 0},
        },
    },
}

CHARTS_STATUS = {
    "type": "object",
    "required": ["charts", "scheduler", "cache", "config", "config_error", "config_restart_needed", "now"],
    "properties": {
        "charts": {"type": "array", "items": ref("ChartStatus")},
        # 配置文件：监视的文件、上次保存没能载入、要重启才生效的设置（docs/reload.md）
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
}

RUN = {
    "type": "object",
    "required": ["rendered", "version", "render_ms"],
    "properties": {"rendered": {"type": "boolean"}, "version": {"type": "integer"}, "render_ms": {"type": "number"}},
}

CHART_DATA = {
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
}

_NAMES = {"type": "array", "items": {"type": "string"}}
HEALTH = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unhealthy", "ready", "not_ready"]},
        "scheduler_running": {"type": "boolean"},
        **{key: _NAMES for key in ("stale", "failing", "no_job", "paused", "reasons", "missing")},
    },
}

SCHEDULER_INFO = {
    "type": "object",
    "required": ["current_host", "allowed_hosts", "running"],
    "properties": {
        "current_host": {"type": "string"},
        "allowed_hosts": {"type": "array", "items": {"type": "string"}},
        "running": {"type": "boolean"},
    },
}

JOB = {
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
        "next_run_time": NULLABLE_STRING,
        **{unit: {"type": "integer"} for unit in INTERVAL_ARGS},
    },
}

# 名字 → 模式，按文档里的顺序
SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": ERROR,
    "ChartStatus": CHART_STATUS,
    "ChartsStatus": CHARTS_STATUS,
    "Run": RUN,
    "ChartData": CHART_DATA,
    "Health": HEALTH,
    "SchedulerInfo": SCHEDULER_INFO,
    "Job": JOB,
}
