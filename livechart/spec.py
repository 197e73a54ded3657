"""图表规格与任务定义的解析和校验：启动时快速失败，/scheduler API 也用同一套规则。

本模块是纯数据代码，不导入 Flask。
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

JOB_FUNC = "livechart.jobs:redraw"
JOB_ID_PREFIX = "redraw-"
# IntervalTrigger 接受的参数；livechart 只支持间隔触发（页面按任务的实时间隔刷新）
INTERVAL_ARGS = ("weeks", "days", "hours", "minutes", "seconds", "start_date", "end_date", "jitter")
# 通过 API 新增任务时允许的其余键
JOB_KEYS = ("id", "name", "func", "kwargs", "trigger", "misfire_grace_time", "coalesce")
# PATCH 时允许修改的键（func/kwargs 也允许，但必须仍指向本图表的重绘函数）
PATCH_KEYS = ("name", "func", "kwargs", "trigger", "misfire_grace_time", "coalesce")

SOURCE_TYPES = ("system", "demo")
SYSTEM_METRICS = ("cpu", "memory", "swap")
CHART_KEYS = ("title", "source", "series", "ylabel", "ylim", "window", "size", "dpi")


class ConfigError(Exception):
    """配置错误：消息指明出错的图表、任务或设置。"""


class JobSpecError(ValueError):
    """通过 API 提交的任务定义不合法（客户端错误，返回 400）。"""


@dataclass(frozen=True)
class SourceSpec:
    """数据源规格：类型及其参数。"""

    type: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChartSpec:
    """一个图表的完整规格（已校验）。"""

    name: str
    title: str
    source: SourceSpec
    series: Mapping[str, str]
    ylabel: str = ""
    ylim: tuple[float, float] | None = None
    window: int = 300
    width: int = 800
    height: int = 400
    dpi: int = 100

    @property
    def job_id(self) -> str:
        """该图表的重绘任务 id。"""
        return job_id_for(self.name)


def job_id_for(chart: str) -> str:
    """图表名 → 任务 id（redraw-<name>），也是 /scheduler API 中的名字。"""
    return f"{JOB_ID_PREFIX}{chart}"


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


def _number(where: str, key: str, value: Any, low: float, high: float, integer: bool = False) -> Any:
    """校验数值在 [low, high] 内；bool 不算数字。"""
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        raise _fail(where, f"option '{key}' must be a {'whole ' if integer else ''}number, got {value!r}")
    if not low <= value <= high:
        raise _fail(where, f"option '{key}' = {value!r} is out of range [{low}, {high}]")
    return value


def _source(where: str, raw: Any) -> SourceSpec:
    """解析并校验数据源规格。"""
    if not isinstance(raw, Mapping) or "type" not in raw:
        raise _fail(where, "option 'source' must be a dict with a 'type'")
    kind = raw["type"]
    params = {k: v for k, v in raw.items() if k != "type"}
    if kind not in SOURCE_TYPES:
        raise _fail(where, f"unknown source type {kind!r} (known: {', '.join(SOURCE_TYPES)})")
    if kind == "system":
        unknown = set(params) - {"metrics"}
        metrics = params.get("metrics", ["cpu", "memory"])
        if not isinstance(metrics, list | tuple) or not metrics:
            raise _fail(where, "source option 'metrics' must be a non-empty list")
        bad = [m for m in metrics if m not in SYSTEM_METRICS]
        if bad:
            raise _fail(where, f"unknown system metric {bad[0]!r} (known: {', '.join(SYSTEM_METRICS)})")
        params["metrics"] = list(metrics)
    else:
        unknown = set(params) - {"seed", "period", "noise"}
        _number(where, "source.seed", params.setdefault("seed", 0), 0, 2**32 - 1, integer=True)
        _number(where, "source.period", params.setdefault("period", 60), 1, 86400)
        _number(where, "source.noise", params.setdefault("noise", 0.1), 0, 10)
    if unknown:
        raise _fail(where, f"unknown source option {sorted(unknown)[0]!r} for source type {kind!r}")
    return SourceSpec(kind, params)


def source_columns(source: SourceSpec) -> tuple[str, ...]:
    """数据源产生的列名。"""
    if source.type == "system":
        return tuple(source.params["metrics"])
    return ("signal", "walk")


def parse_chart(name: Any, raw: Any) -> ChartSpec:
    """把 CHARTS 中的一项解析为 ChartSpec；出错时抛出指明图表与选项的 ConfigError。"""
    where = f"CHARTS[{name!r}]"
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ConfigError(f"{where}: a chart name must be non-empty letters, digits, '-' or '_'")
    if not isinstance(raw, Mapping):
        raise _fail(where, "a chart must be a dict")
    unknown = set(raw) - set(CHART_KEYS)
    if unknown:
        raise _fail(where, f"unknown option {sorted(unknown)[0]!r} (known: {', '.join(CHART_KEYS)})")
    for required in ("title", "source"):
        if required not in raw:
            raise _fail(where, f"option '{required}' is required")
    title = raw["title"]
    if not isinstance(title, str) or not title.strip():
        raise _fail(where, "option 'title' must be a non-empty string")
    source = _source(where, raw["source"])
    columns = source_columns(source)
    series = raw.get("series", {c: c for c in columns})
    if not isinstance(series, Mapping) or not series:
        raise _fail(where, "option 'series' must be a non-empty dict of column → label")
    missing = [c for c in series if c not in columns]
    if missing:
        raise _fail(where, f"series {missing[0]!r} is not produced by source {source.type!r} (columns: {', '.join(columns)})")
    ylim = raw.get("ylim")
    if ylim is not None:
        if not isinstance(ylim, list | tuple) or len(ylim) != 2:
            raise _fail(where, "option 'ylim' must be [low, high] or omitted for auto")
        low = _number(where, "ylim", ylim[0], -1e12, 1e12)
        high = _number(where, "ylim", ylim[1], -1e12, 1e12)
        if low >= high:
            raise _fail(where, f"option 'ylim' needs low < high, got {list(ylim)!r}")
        ylim = (float(low), float(high))
    size = raw.get("size", [800, 400])
    if not isinstance(size, list | tuple) or len(size) != 2:
        raise _fail(where, "option 'size' must be [width, height] in pixels")
    width = _number(where, "size", size[0], 100, 4000, integer=True)
    height = _number(where, "size", size[1], 100, 4000, integer=True)
    ylabel = raw.get("ylabel", "")
    if not isinstance(ylabel, str):
        raise _fail(where, "option 'ylabel' must be a string")
    return ChartSpec(
        name=name,
        title=title,
        source=source,
        series=dict(series),
        ylabel=ylabel,
        ylim=ylim,
        window=_number(where, "window", raw.get("window", 300), 2, 100_000, integer=True),
        width=width,
        height=height,
        dpi=_number(where, "dpi", raw.get("dpi", 100), 50, 400, integer=True),
    )


def interval_seconds(trigger_args: Mapping[str, Any], min_interval: float) -> float:
    """用 APScheduler 自己的 IntervalTrigger 校验间隔参数，返回间隔秒数；不合法时抛 JobSpecError。"""
    args = dict(trigger_args)
    if not any(args.get(unit) for unit in ("weeks", "days", "hours", "minutes", "seconds")):
        raise JobSpecError("an interval job needs one of weeks, days, hours, minutes or seconds")
    for unit in ("weeks", "days", "hours", "minutes", "seconds"):
        value = args.get(unit, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise JobSpecError(f"'{unit}' must be a number, got {value!r}")
    try:
        trigger = IntervalTrigger(**args)
    except (TypeError, ValueError, OverflowError) as exc:
        raise JobSpecError(f"invalid interval trigger arguments: {exc}") from None
    seconds = trigger.interval.total_seconds()
    if seconds < min_interval:
        raise JobSpecError(f"interval {seconds:g} s is below the minimum of {min_interval:g} s")
    if trigger.interval % timedelta(seconds=1):
        raise JobSpecError(f"interval {seconds:g} s must be a whole number of seconds")
    return seconds


def check_job(
    job: Mapping[str, Any], charts: Mapping[str, ChartSpec], min_interval: float, *, patch_of: str | None = None
) -> None:
    """校验一个任务定义（新增）或一组修改（patch_of=任务 id）；不合法时抛 JobSpecError。

    只允许 livechart 自己的重绘函数，且 redraw-<name> 必须重绘 <name>：
    /scheduler API 原本可以运行任何可导入的函数（见 DESIGN.md 陷阱 1）。
    """
    if not isinstance(job, Mapping):
        raise JobSpecError("the body must be a JSON object")
    allowed = PATCH_KEYS if patch_of else JOB_KEYS
    unknown = [k for k in job if k not in allowed and k not in INTERVAL_ARGS]
    if unknown:
        raise JobSpecError(f"field {unknown[0]!r} is not allowed (allowed: {', '.join(allowed + INTERVAL_ARGS)})")
    job_id = patch_of if patch_of else job.get("id")
    if not isinstance(job_id, str) or not job_id.startswith(JOB_ID_PREFIX):
        raise JobSpecError(f"a job id must be '{JOB_ID_PREFIX}<chart>', got {job_id!r}")
    chart = job_id[len(JOB_ID_PREFIX) :]
    if chart not in charts:
        raise JobSpecError(f"job {job_id!r} names unknown chart {chart!r} (charts: {', '.join(charts)})")
    if (not patch_of or "func" in job) and job.get("func") != JOB_FUNC:
        raise JobSpecError(f"'func' must be {JOB_FUNC!r}; other functions cannot be scheduled")
    if (not patch_of or "kwargs" in job) and job.get("kwargs") != {"chart": chart}:
        raise JobSpecError(f"'kwargs' of job {job_id!r} must be {{\"chart\": {chart!r}}}")
    if "name" in job and not isinstance(job["name"], str):
        raise JobSpecError("'name' must be a string")
    if "coalesce" in job and not isinstance(job["coalesce"], bool):
        raise JobSpecError("'coalesce' must be true or false")
    if "misfire_grace_time" in job:
        grace = job["misfire_grace_time"]
        if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int) or grace < 1):
            raise JobSpecError("'misfire_grace_time' must be a whole number of seconds ≥ 1 or null")
    trigger_args = {k: v for k, v in job.items() if k in INTERVAL_ARGS}
    if patch_of and "trigger" not in job and not trigger_args:
        return
    if job.get("trigger") != "interval":
        raise JobSpecError('\'trigger\' must be "interval"; to change the interval send {"trigger": "interval", "seconds": N}')
    interval_seconds(trigger_args, min_interval)


def parse_settings(config: Mapping[str, Any]) -> tuple[dict[str, ChartSpec], dict[str, float]]:
    """校验 CHARTS 与 JOBS：返回 (图表名 → 规格, 图表名 → 间隔秒数)；出错时抛 ConfigError。"""
    raw_charts = config.get("CHARTS")
    if not isinstance(raw_charts, Mapping) or not raw_charts:
        raise ConfigError("CHARTS: at least one chart must be configured (a dict of name → spec)")
    charts = {name: parse_chart(name, raw) for name, raw in raw_charts.items()}
    min_interval = config.get("LIVECHART_MIN_INTERVAL", 1)
    raw_jobs = config.get("JOBS")
    if not isinstance(raw_jobs, list | tuple):
        raise ConfigError("JOBS: must be a list of Flask-APScheduler job dicts")
    intervals: dict[str, float] = {}
    for index, job in enumerate(raw_jobs):
        label = job.get("id", f"#{index}") if isinstance(job, Mapping) else f"#{index}"
        try:
            check_job(job, charts, min_interval)
        except JobSpecError as exc:
            raise ConfigError(f"JOBS[{label!r}]: {exc}") from None
        chart = job["kwargs"]["chart"]
        if chart in intervals:
            raise ConfigError(f"JOBS[{label!r}]: chart {chart!r} already has a job; one job per chart")
        intervals[chart] = interval_seconds({k: v for k, v in job.items() if k in INTERVAL_ARGS}, min_interval)
    for name in charts:
        if name not in intervals:
            example = {"id": job_id_for(name), "func": JOB_FUNC, "kwargs": {"chart": name}, "trigger": "interval", "seconds": 2}
            raise ConfigError(f"CHARTS[{name!r}]: has no job; add one to JOBS, e.g. {example!r}")
    return charts, intervals
