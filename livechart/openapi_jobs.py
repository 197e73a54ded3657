"""OpenAPI 文档里 /scheduler 的任务请求体：与 jobspec.check_job / check_patch 的规则一致（文本是英文）。

这是文档里随设置变化的部分：每个图表一种新增任务的请求体，间隔各单位的范围来自
LIVECHART_MIN_INTERVAL / LIVECHART_MAX_INTERVAL（jobspec.IntervalLimits）。
"""

from __future__ import annotations

import math
from typing import Any

from livechart.jobspec import INTERVAL_ARGS
from livechart.jobspec import UNIT_SECONDS
from livechart.jobspec import IntervalLimits
from livechart.spec import JOB_FUNC
from livechart.spec import job_id_for

# 新增和 PATCH 都可以给的选项
OPTIONS = {
    "name": {"type": "string", "minLength": 1},
    "misfire_grace_time": {"type": "integer", "minimum": 1, "nullable": True},
    "coalesce": {"type": "boolean"},
}
# GET 返回的只读字段：与当前值相同时忽略（next_run_time 总是忽略），不同则 400
READ_ONLY_SCHEMAS: dict[str, dict[str, Any]] = {
    "id": {"type": "string"},
    "func": {"type": "string"},
    "args": {"type": "array", "items": {}},
    "kwargs": {"type": "object"},
    "max_instances": {"type": "integer"},
    "next_run_time": {"type": "string", "nullable": True},
    "start_date": {"type": "string"},
}
INTERVAL_TRIGGER = {"type": "string", "enum": ["interval"]}


def interval_units(limits: IntervalLimits) -> dict[str, Any]:
    """间隔各单位的属性：整数，每个单位单独不超过上限。

    合计不超过 LIVECHART_MAX_INTERVAL 这一条 JSON Schema 写不出来：每个单位单独不超过它（说明里写明合计的规则）。
    """
    most = limits.unit_max()
    return {
        unit: {
            "type": "integer",
            "minimum": 0,
            "maximum": most[unit],
            "description": f"the units together: {limits.low:g}–{limits.high:g} s",
        }
        for unit in INTERVAL_ARGS
    }


def enough_interval(limits: IntervalLimits) -> list[dict[str, Any]]:
    """“至少一个单位本身就不小于 LIVECHART_MIN_INTERVAL”的 anyOf。

    最小间隔不超过 60 秒（默认 1 秒）时这与服务器的规则（合计不小于最小间隔）完全一致；更大时文档更严：
    几个单位合起来才够的间隔（如最小 90 秒时的 1 分 30 秒）服务器接受，文档不算合法。
    """
    return [
        {"required": [unit], "properties": {unit: {"minimum": max(1, math.ceil(limits.low / UNIT_SECONDS[unit]))}}}
        for unit in INTERVAL_ARGS
    ]


def add_job_body(charts: list[str], limits: IntervalLimits) -> dict[str, Any]:
    """POST /scheduler/jobs 的请求体：每个图表一种，id 与 kwargs.chart 必须是同一个图表。"""
    units, enough = interval_units(limits), enough_interval(limits)
    return {
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
                    "trigger": INTERVAL_TRIGGER,
                    **OPTIONS,
                    **units,
                },
                "additionalProperties": False,
                "anyOf": enough,
            }
            for chart in charts
        ]
    }


def patch_job_body(limits: IntervalLimits) -> dict[str, Any]:
    """PATCH /scheduler/jobs/{job_id} 的请求体：给出的单位组成新间隔，或者不给单位（只改选项）。"""
    no_unit = {"not": {"anyOf": [{"required": [unit]} for unit in INTERVAL_ARGS]}}
    return {
        "type": "object",
        "description": "the units given make the new interval (units left out count as 0); read-only fields as GET "
        "returns them are ignored when they equal the current value",
        "properties": {
            "trigger": INTERVAL_TRIGGER,
            **OPTIONS,
            **interval_units(limits),
            **{key: {**schema, "readOnly": True} for key, schema in READ_ONLY_SCHEMAS.items()},
        },
        "additionalProperties": False,
        "anyOf": [no_unit, *enough_interval(limits)],
    }
