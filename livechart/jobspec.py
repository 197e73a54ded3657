"""重绘任务的定义与间隔：config.py 的 JOBS 与 /scheduler API（新增、PATCH）共用的校验规则，以及间隔的上下限。

只允许 livechart 自己的重绘函数，且 redraw-<name> 必须重绘 <name>（任务 id 与图表名的对应在 livechart/spec.py）。
livechart 只支持间隔触发（页面按任务的实时间隔刷新）。本模块是纯数据代码，不导入 Flask。
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from livechart.durations import UNITS
from livechart.durations import duration_text
from livechart.spec import JOB_FUNC
from livechart.spec import ChartSpec
from livechart.spec import ConfigError
from livechart.spec import chart_of_job
from livechart.spec import job_id_for

# 间隔参数（weeks、days…）及其秒数：由 livechart/durations.py 的单位表而来，错误消息与 /openapi.json 都用它们
UNIT_SECONDS = {unit: seconds for unit, (seconds, _) in UNITS.items()}
INTERVAL_ARGS = tuple(UNIT_SECONDS)
# LIVECHART_MAX_INTERVAL 最多能设到一年（366 天）
LONGEST_INTERVAL = 366 * UNIT_SECONDS["days"]
# 任务可修改的选项（新增和 PATCH 都可以给）
JOB_OPTIONS = ("name", "misfire_grace_time", "coalesce")
# 新增任务（API 与配置的 JOBS）允许的键（另加间隔单位）
JOB_KEYS = ("id", "func", "kwargs", "trigger", *JOB_OPTIONS)
# PATCH 可修改的键（另加间隔单位）；trigger 只能是 "interval"
PATCH_KEYS = ("trigger", *JOB_OPTIONS)
# GET 返回、但不能修改的字段：PATCH 时与当前值相同则忽略（next_run_time 总是忽略），不同则 400
READ_ONLY = ("id", "func", "args", "kwargs", "max_instances", "next_run_time", "start_date")
# 能传给 IntervalTrigger、但 livechart 不接受的参数及原因
UNSUPPORTED = {
    "jitter": "共用 Redis 时所有进程在同一时刻触发，重绘任务不加随机延迟",
    "end_date": "图表的任务一直运行，直到被暂停或删除",
    "start_date": "它由 livechart 选定（共用 Redis 时各进程对齐）",
    "timezone": "间隔与时区无关",
}
ONLY_INTERVAL = "只支持间隔触发：'trigger' 必须是 \"interval\""
# 缺少或写错 trigger 时告诉对方该怎么写
SEND_INTERVAL = '请发送 {"trigger": "interval", "seconds": N}'


class JobSpecError(ValueError):
    """任务定义不合法：通过 API 提交的是客户端错误（返回 400），config.py 的 JOBS 里的是配置错误（settings 包成 ConfigError）。"""


def job_interval(job: Any) -> float | None:
    """APScheduler 任务当前的间隔秒数（实时的，可能已被 API 修改）；没有任务或不是间隔触发时为 None。"""
    if job is None or not isinstance(job.trigger, IntervalTrigger):
        return None
    return job.trigger.interval.total_seconds()


@dataclass(frozen=True)
class IntervalLimits:
    """任务间隔的上下限（秒）：LIVECHART_MIN_INTERVAL 与 LIVECHART_MAX_INTERVAL。唯一读取并校验它们的地方。

    上限让间隔不会长到没有意义：浏览器的定时器超过 2^31−1 毫秒（约 24.8 天）就会立即触发（docs/pitfalls.md 第 23 条）。
    """

    low: float = 1
    high: float = 86400

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> IntervalLimits:
        """从配置读取并校验；不合法时抛出指明设置的 ConfigError。"""
        low, high = config.get("LIVECHART_MIN_INTERVAL", 1), config.get("LIVECHART_MAX_INTERVAL", 86400)
        for name, value in (("LIVECHART_MIN_INTERVAL", low), ("LIVECHART_MAX_INTERVAL", high)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= LONGEST_INTERVAL:
                raise ConfigError(
                    f"{name} 必须是 1 到 {LONGEST_INTERVAL}（{duration_text(LONGEST_INTERVAL)}）之间的整数秒数，收到 {value!r}"
                )
        if low > high:
            raise ConfigError(f"LIVECHART_MIN_INTERVAL（{low!r}）大于 LIVECHART_MAX_INTERVAL（{high!r}）")
        return cls(low, high)

    def unit_max(self) -> dict[str, int]:
        """每个单位单独能取的最大值（不超过上限）。"""
        return {unit: int(self.high // seconds) for unit, seconds in UNIT_SECONDS.items()}


def interval_seconds(trigger_args: Mapping[str, Any], limits: IntervalLimits, *, cap: bool = False) -> float:
    """校验间隔参数（各单位为不超过上限的整数，合计不小于下限），返回间隔秒数；不合法时抛 JobSpecError。

    几个单位合起来超过上限时：cap=True（/scheduler API）把间隔封顶到上限，响应与状态里是生效的间隔；
    cap=False（config.py 的 JOBS）报错，启动失败。API 不报错是因为“合计”这条规则 /openapi.json 写不出来
    （JSON Schema 只能限制每个单位），而文档允许的请求必须被接受。

    只收整数（2，而不是 2.0）：/openapi.json 写的就是 integer，文档与服务器接受的完全一致。
    """
    units = {unit: trigger_args[unit] for unit in INTERVAL_ARGS if unit in trigger_args}
    for unit, value in units.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise JobSpecError(f"'{unit}' 必须是数字，收到 {value!r}")
        if value > limits.unit_max()[unit]:
            raise JobSpecError(
                f"'{unit}' 最大为 {limits.unit_max()[unit]}（LIVECHART_MAX_INTERVAL 是 {duration_text(limits.high)}），收到 {value!r}"
            )
    if not any(units.values()):
        raise JobSpecError(f"间隔任务要给出 {'、'.join(INTERVAL_ARGS)} 中的至少一个，且不能都是 0")
    seconds = sum(value * UNIT_SECONDS[unit] for unit, value in units.items())
    if seconds < limits.low:
        raise JobSpecError(f"间隔 {duration_text(seconds)}低于下限 {duration_text(limits.low)}（LIVECHART_MIN_INTERVAL）")
    if seconds > limits.high:
        if not cap:
            raise JobSpecError(f"间隔 {duration_text(seconds)}超过上限 {duration_text(limits.high)}（LIVECHART_MAX_INTERVAL）")
        seconds = limits.high
    if seconds != int(seconds):
        raise JobSpecError(f"间隔必须是整数秒，收到 {duration_text(seconds)}")
    for unit, value in units.items():
        if value < 0 or not isinstance(value, int):
            raise JobSpecError(f"'{unit}' 必须是不小于 0 的整数，并且写成整数（2 而不是 2.0），收到 {value!r}")
    return float(seconds)


def _check_trigger(job: Mapping[str, Any]) -> None:
    """先查触发器：cron / date 的任务报“只支持间隔触发”，而不是它的第一个未知字段。"""
    if "trigger" in job and job["trigger"] != "interval":
        raise JobSpecError(f"{ONLY_INTERVAL}，收到 {job['trigger']!r}；{SEND_INTERVAL}")


def _check_keys(job: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """不支持的间隔参数说明原因；其余未知字段列出允许的字段。"""
    for key in job:
        if key in UNSUPPORTED and key not in allowed:
            raise JobSpecError(f"不支持 '{key}'：{UNSUPPORTED[key]}")
        if key not in allowed and key not in INTERVAL_ARGS:
            raise JobSpecError(f"不允许字段 {key!r}（允许的字段：{'、'.join(allowed + INTERVAL_ARGS)}）")


def _check_redraw(job_id: Any, job: Mapping[str, Any], charts: Mapping[str, ChartSpec], patch: bool) -> str:
    """任务 id 必须是 redraw-<图表>，func/kwargs 必须重绘这个图表；返回图表名。"""
    chart = chart_of_job(job_id)
    if chart is None:
        raise JobSpecError(f"任务 id 必须是 '{job_id_for('<图表名>')}'，收到 {job_id!r}")
    if chart not in charts:
        raise JobSpecError(f"任务 {job_id!r} 指向的图表 {chart!r} 不存在（现有的图表：{'、'.join(charts)}）")
    if (not patch or "func" in job) and job.get("func") != JOB_FUNC:
        raise JobSpecError(f"'func' 必须是 {JOB_FUNC!r}：不能调度别的函数")
    if (not patch or "kwargs" in job) and job.get("kwargs") != {"chart": chart}:
        raise JobSpecError(f"任务 {job_id!r} 的 'kwargs' 必须是 {{\"chart\": {chart!r}}}")
    return chart


def _options(job: Mapping[str, Any]) -> dict[str, Any]:
    """校验并取出任务选项（名称、错过运行的宽限、合并错过的运行）。"""
    if "name" in job and (not isinstance(job["name"], str) or not job["name"]):
        raise JobSpecError("'name' 必须是非空字符串")
    if "coalesce" in job and not isinstance(job["coalesce"], bool):
        raise JobSpecError("'coalesce' 必须是 true 或 false")
    if "misfire_grace_time" in job:
        grace = job["misfire_grace_time"]
        if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int) or grace < 1):
            raise JobSpecError("'misfire_grace_time' 必须是不小于 1 的整数秒数，或者 null")
    return {key: job[key] for key in JOB_OPTIONS if key in job}


def check_job(job: Any, charts: Mapping[str, ChartSpec], limits: IntervalLimits, *, cap: bool = False) -> dict[str, Any]:
    """校验一个新任务的定义（POST /scheduler/jobs 与配置的 JOBS）；返回期望状态 {seconds, 选项…}。

    只允许 livechart 自己的重绘函数，且 redraw-<name> 必须重绘 <name>：
    /scheduler API 原本可以运行任何可导入的函数（见 docs/pitfalls.md 第 1 条）。不合法时抛 JobSpecError。
    """
    if not isinstance(job, Mapping):
        raise JobSpecError("任务定义必须是字典（JSON 对象）")
    _check_trigger(job)
    _check_keys(job, JOB_KEYS)
    _check_redraw(job.get("id"), job, charts, patch=False)
    options = _options(job)
    if "trigger" not in job:
        raise JobSpecError(f"{ONLY_INTERVAL}；{SEND_INTERVAL}")
    return {"seconds": interval_seconds(job, limits, cap=cap), **options}


def _same_date(value: Any, current: Any) -> bool:
    """GET 返回的 ISO 8601 时间与当前值是否是同一时刻。"""
    if not isinstance(value, str) or current is None:
        return False
    try:
        return datetime.fromisoformat(value) == current
    except ValueError:
        return False


def _check_read_only(body: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """只读字段：与当前值相同（GET 原样返回的）则忽略，不同则指明字段；next_run_time 总是忽略（它一直在变）。"""
    for key in READ_ONLY:
        if key not in body or key in ("func", "kwargs"):
            continue
        value, now = body[key], current.get(key)
        if key == "next_run_time":
            same = value is None or isinstance(value, str)
        elif key == "start_date":
            same = _same_date(value, now)
        elif key == "args":
            same = isinstance(value, list) and value == list(now or ())
        else:
            same = type(value) is type(now) and value == now
        if not same:
            shown = now.isoformat() if isinstance(now, datetime) else now
            raise JobSpecError(f"{key!r} 是只读字段（当前值为 {shown!r}）：不要发送它，或者发送当前值")


def check_patch(body: Any, current: Mapping[str, Any], charts: Mapping[str, ChartSpec], limits: IntervalLimits) -> dict[str, Any]:
    """校验 PATCH /scheduler/jobs/<id> 的请求体；current 是任务的当前字段（id、args、max_instances、start_date…）。

    返回要改的期望状态 {seconds?, 选项…}：给了任一间隔单位时，间隔即为所给单位之和（没给的单位为 0），
    trigger 可以省略。GET 的结果改几个字段后原样 PATCH 回来也可以。不合法时抛 JobSpecError，什么都不改。
    """
    if not isinstance(body, Mapping):
        raise JobSpecError("请求体必须是 JSON 对象")
    _check_trigger(body)
    _check_keys(body, PATCH_KEYS + READ_ONLY)
    _check_redraw(current["id"], body, charts, patch=True)
    _check_read_only(body, current)
    changes = _options(body)
    if any(unit in body for unit in INTERVAL_ARGS):
        changes["seconds"] = interval_seconds(body, limits, cap=True)
    return changes
