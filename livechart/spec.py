"""图表规格与任务定义的解析和校验：启动时快速失败，/scheduler API 也用同一套规则。

本模块是纯数据代码，不导入 Flask。
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd
from apscheduler.triggers.interval import IntervalTrigger
from matplotlib.colors import is_color_like

from livechart import sources

JOB_FUNC = "livechart.jobs:redraw"
JOB_ID_PREFIX = "redraw-"
# IntervalTrigger 接受的参数；livechart 只支持间隔触发（页面按任务的实时间隔刷新）
INTERVAL_ARGS = ("weeks", "days", "hours", "minutes", "seconds", "start_date", "end_date", "jitter")
# 通过 API 新增任务时允许的其余键
JOB_KEYS = ("id", "name", "func", "kwargs", "trigger", "misfire_grace_time", "coalesce")
# PATCH 时允许修改的键（func/kwargs 也允许，但必须仍指向本图表的重绘函数）
PATCH_KEYS = ("name", "func", "kwargs", "trigger", "misfire_grace_time", "coalesce")

KINDS = ("line", "area", "bar", "step", "scatter")
UNITS = ("plain", "percent", "bytes", "bytes/s")
THEMES = ("light", "dark")
AXES = ("left", "right")
CHART_KEYS = (
    "title", "kind", "stacked", "source", "series", "ylabel", "y2label", "unit", "y2unit", "ylim", "y2lim",
    "window", "size", "dpi", "theme", "annotate_last", "legend",
)  # fmt: skip
SERIES_KEYS = ("label", "axis", "color")
# 按时长的窗口最多保留的点数（内存上限）
MAX_POINTS = 100_000


class ConfigError(Exception):
    """配置错误：消息指明出错的图表、任务或设置。"""


class JobSpecError(ValueError):
    """通过 API 提交的任务定义不合法（客户端错误，返回 400）。"""


@dataclass(frozen=True)
class SeriesSpec:
    """一条数据序列：数据列、图例标签、所在的 y 轴、颜色（None 为主题默认）。"""

    column: str
    label: str
    axis: str = "left"
    color: str | None = None


@dataclass(frozen=True)
class ChartSpec:
    """一个图表的完整规格（已校验）。"""

    name: str
    title: str
    source_type: str
    source_params: Mapping[str, Any]
    series: tuple[SeriesSpec, ...]
    kind: str = "line"
    stacked: bool = False
    ylabel: str = ""
    y2label: str = ""
    unit: str = "plain"
    y2unit: str = "plain"
    ylim: tuple[float, float] | None = None
    y2lim: tuple[float, float] | None = None
    # 窗口：最多 points 个点；span 不为 None 时还按时长裁剪（x 轴固定显示这段时长）
    points: int = 300
    span: float | None = None
    width: int = 800
    height: int = 400
    dpi: int = 100
    theme: str = "light"
    annotate_last: bool = False
    legend: bool = True

    @property
    def job_id(self) -> str:
        """该图表的重绘任务 id。"""
        return job_id_for(self.name)

    @property
    def has_right_axis(self) -> bool:
        """是否有序列画在右侧（第二）y 轴上。"""
        return any(s.axis == "right" for s in self.series)


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


def _choice(where: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(where, f"option '{key}' must be one of {', '.join(choices)}, got {value!r}")
    return value


def _flag(where: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, f"option '{key}' must be true or false, got {value!r}")
    return value


def _text(where: str, key: str, value: Any, required: bool = False) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(where, f"option '{key}' must be a {'non-empty ' if required else ''}string")
    return value


def _limits(where: str, key: str, value: Any) -> tuple[float, float] | None:
    """y 范围：[low, high]，或 None / "auto" 表示自动。"""
    if value is None or value == "auto":
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise _fail(where, f"option '{key}' must be [low, high] or \"auto\"")
    low = _number(where, key, value[0], -1e15, 1e15)
    high = _number(where, key, value[1], -1e15, 1e15)
    if low >= high:
        raise _fail(where, f"option '{key}' needs low < high, got {list(value)!r}")
    return (float(low), float(high))


def _window(where: str, value: Any) -> tuple[int, float | None]:
    """窗口：点数（整数），或时长字符串（如 "10min"、"2h"、"1D"）。"""
    if isinstance(value, str):
        try:
            span = pd.Timedelta(value).total_seconds()
        except (ValueError, TypeError):
            raise _fail(where, f"option 'window' = {value!r} is not a duration like '90s', '10min', '2h' or '1D'") from None
        if not 1 <= span <= 366 * 86400:
            raise _fail(where, f"option 'window' = {value!r} must be between 1 s and 366 days")
        return MAX_POINTS, span
    return _number(where, "window", value, 2, MAX_POINTS, integer=True), None


def _series(where: str, raw: Any, source_type: str, columns: tuple[str, ...] | None) -> tuple[SeriesSpec, ...]:
    """序列：{列: 标签} 或 {列: {label, axis, color}} 或 [列, …]；省略时取数据源的全部列。"""
    if raw is None:
        if columns is None:
            raise _fail(where, f"option 'series' is required: source {source_type!r} does not declare its columns")
        raw = list(columns)
    if isinstance(raw, list | tuple):
        raw = dict.fromkeys(raw)
    if not isinstance(raw, Mapping) or not raw:
        raise _fail(where, "option 'series' must be a non-empty dict of column → label (or a list of columns)")
    result = []
    for column, options in raw.items():
        if columns is not None and column not in columns:
            raise _fail(where, f"series {column!r} is not produced by source {source_type!r} (columns: {', '.join(columns)})")
        if options is None or isinstance(options, str):
            options = {"label": options} if options else {}
        if not isinstance(options, Mapping):
            raise _fail(where, f"series {column!r} must be a label or a dict with {', '.join(SERIES_KEYS)}")
        unknown = sorted(set(options) - set(SERIES_KEYS))
        if unknown:
            raise _fail(where, f"series {column!r}: unknown option {unknown[0]!r} (known: {', '.join(SERIES_KEYS)})")
        label = options.get("label") or sources.default_label(source_type, column)
        axis = options.get("axis", "left")
        if axis not in AXES:
            raise _fail(where, f"series {column!r}: option 'axis' must be left or right, got {axis!r}")
        color = options.get("color")
        if color is not None and not is_color_like(color):
            raise _fail(where, f"series {column!r}: option 'color' = {color!r} is not a Matplotlib color")
        result.append(SeriesSpec(column=column, label=_text(where, "label", label), axis=axis, color=color))
    return tuple(result)


def parse_chart(name: Any, raw: Any) -> ChartSpec:
    """把 CHARTS 中的一项解析为 ChartSpec；出错时抛出指明图表与选项的 ConfigError。"""
    where = f"CHARTS[{name!r}]"
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ConfigError(f"{where}: a chart name must be non-empty letters, digits, '-' or '_'")
    if not isinstance(raw, Mapping):
        raise _fail(where, "a chart must be a dict")
    unknown = sorted(set(raw) - set(CHART_KEYS))
    if unknown:
        raise _fail(where, f"unknown option {unknown[0]!r} (known: {', '.join(CHART_KEYS)})")
    for required in ("title", "source"):
        if required not in raw:
            raise _fail(where, f"option '{required}' is required")
    if not isinstance(raw["source"], Mapping):
        raise _fail(where, "option 'source' must be a dict with a 'type'")
    try:
        source_type, source_params = sources.normalize(raw["source"])
    except sources.SourceError as exc:
        raise _fail(where, str(exc)) from None
    columns = sources.SOURCES[source_type].columns(source_params)
    series = _series(where, raw.get("series"), source_type, columns)
    if columns is None and source_type == "python":
        # 事先不知道列的数据源（python）：告诉它图表要画哪些列，结果缺列时它在取数时就报错并指明缺的列
        source_params = {**source_params, "columns": [s.column for s in series]}
    kind = _choice(where, "kind", raw.get("kind", "line"), KINDS)
    stacked = _flag(where, "stacked", raw.get("stacked", False))
    if stacked and kind not in ("area", "bar"):
        raise _fail(where, f"option 'stacked' applies to area and bar charts, not {kind!r}")
    size = raw.get("size", [800, 400])
    if not isinstance(size, list | tuple) or len(size) != 2:
        raise _fail(where, "option 'size' must be [width, height] in pixels")
    points, span = _window(where, raw.get("window", 300))
    has_right = any(s.axis == "right" for s in series)
    for key in ("y2label", "y2unit", "y2lim"):
        if key in raw and not has_right:
            raise _fail(where, f'option \'{key}\' needs a series with "axis": "right"')
    return ChartSpec(
        name=name,
        title=_text(where, "title", raw["title"], required=True),
        source_type=source_type,
        source_params=source_params,
        series=series,
        kind=kind,
        stacked=stacked,
        ylabel=_text(where, "ylabel", raw.get("ylabel", "")),
        y2label=_text(where, "y2label", raw.get("y2label", "")),
        unit=_choice(where, "unit", raw.get("unit", "plain"), UNITS),
        y2unit=_choice(where, "y2unit", raw.get("y2unit", "plain"), UNITS),
        ylim=_limits(where, "ylim", raw.get("ylim")),
        y2lim=_limits(where, "y2lim", raw.get("y2lim")),
        points=points,
        span=span,
        width=_number(where, "size", size[0], 100, 4000, integer=True),
        height=_number(where, "size", size[1], 100, 4000, integer=True),
        dpi=_number(where, "dpi", raw.get("dpi", 100), 50, 400, integer=True),
        theme=_choice(where, "theme", raw.get("theme", "light"), THEMES),
        annotate_last=_flag(where, "annotate_last", raw.get("annotate_last", False)),
        legend=_flag(where, "legend", raw.get("legend", len(series) > 1)),
    )


def job_interval(job: Any) -> float | None:
    """APScheduler 任务当前的间隔秒数（实时的，可能已被 API 修改）；没有任务或不是间隔触发时为 None。"""
    if job is None or not isinstance(job.trigger, IntervalTrigger):
        return None
    return job.trigger.interval.total_seconds()


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
    /scheduler API 原本可以运行任何可导入的函数（见 docs/pitfalls.md 第 1 条）。
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
