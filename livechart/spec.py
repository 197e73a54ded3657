"""图表规格与任务定义的解析和校验：启动时快速失败，/scheduler API 也用同一套规则。

本模块是纯数据代码，不导入 Flask。
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from apscheduler.triggers.interval import IntervalTrigger
from matplotlib.colors import is_color_like

from livechart import drawing
from livechart import sources

JOB_FUNC = "livechart.jobs:redraw"
JOB_ID_PREFIX = "redraw-"
# 间隔的单位及其秒数；livechart 只支持间隔触发（页面按任务的实时间隔刷新）
UNIT_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
INTERVAL_ARGS = tuple(UNIT_SECONDS)
# LIVECHART_MAX_INTERVAL 最多能设到一年（366 天）
LONGEST_INTERVAL = 366 * 86400
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
    "jitter": "every process fires at the same instants (with Redis), so a redraw job has no jitter",
    "end_date": "a chart's job runs until it is paused or deleted",
    "start_date": "livechart chooses it (aligned across processes with Redis)",
    "timezone": "intervals do not depend on a time zone",
}
ONLY_INTERVAL = "only interval triggers are supported: 'trigger' must be \"interval\""

KINDS = ("line", "area", "bar", "step", "scatter")
UNITS = ("plain", "percent", "bytes", "bytes/s")
THEMES = ("light", "dark")
AXES = ("left", "right")
CHART_KEYS = (
    "title", "kind", "stacked", "source", "series", "ylabel", "y2label", "unit", "y2unit", "ylim", "y2lim",
    "window", "size", "dpi", "theme", "annotate_last", "legend", "draw",
)  # fmt: skip
# 只属于内置类型的选项：有 draw 的图表自己画坐标轴，给了这些就是配置错误
KIND_ONLY = ("kind", "stacked", "ylabel", "y2label", "unit", "y2unit", "ylim", "y2lim", "annotate_last", "legend")
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
    # 没有 source 的图表（只有 draw 的才可以）：None 与 {}
    source_type: str | None
    source_params: Mapping[str, Any]
    series: tuple[SeriesSpec, ...]
    # 有 draw 的图表为 None
    kind: str | None = "line"
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
    # 自定义的绘图函数（livechart/drawing.py）；None 为内置类型
    draw: drawing.DrawSpec | None = None

    @property
    def job_id(self) -> str:
        """该图表的重绘任务 id。"""
        return job_id_for(self.name)

    @property
    def source_key(self) -> str:
        """数据源（类型与参数）的指纹：配置文件换了数据源时共享的窗口从头开始（livechart/history.py）。"""
        text = json.dumps([self.source_type, self.source_params], sort_keys=True, default=repr)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    @property
    def private_params(self) -> dict[str, Any]:
        """可能带机密的参数：数据源的参数与绘图函数的 kwargs。公开的错误消息要去掉它们的原文（livechart/redact.py）。"""
        return {**self.source_params, "draw": dict(self.draw.kwargs) if self.draw is not None else {}}

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
    if "title" not in raw:
        raise _fail(where, "option 'title' is required")
    if "draw" in raw:
        return _parse_drawn(where, name, raw)
    if "source" not in raw:
        raise _fail(where, "option 'source' is required (or 'draw', a function that draws the chart and may gather its own data)")
    source_type, source_params, series = _source(where, raw)
    kind = _choice(where, "kind", raw.get("kind", "line"), KINDS)
    stacked = _flag(where, "stacked", raw.get("stacked", False))
    if stacked and kind not in ("area", "bar"):
        raise _fail(where, f"option 'stacked' applies to area and bar charts, not {kind!r}")
    has_right = any(s.axis == "right" for s in series)
    for key in ("y2label", "y2unit", "y2lim"):
        if key in raw and not has_right:
            raise _fail(where, f'option \'{key}\' needs a series with "axis": "right"')
    return ChartSpec(
        **_common(where, name, raw, source_type, source_params, series),
        kind=kind,
        stacked=stacked,
        ylabel=_text(where, "ylabel", raw.get("ylabel", "")),
        y2label=_text(where, "y2label", raw.get("y2label", "")),
        unit=_choice(where, "unit", raw.get("unit", "plain"), UNITS),
        y2unit=_choice(where, "y2unit", raw.get("y2unit", "plain"), UNITS),
        ylim=_limits(where, "ylim", raw.get("ylim")),
        y2lim=_limits(where, "y2lim", raw.get("y2lim")),
        annotate_last=_flag(where, "annotate_last", raw.get("annotate_last", False)),
        legend=_flag(where, "legend", raw.get("legend", len(series) > 1)),
    )


def _parse_drawn(where: str, name: str, raw: Mapping[str, Any]) -> ChartSpec:
    """有 draw 的图表：函数在启动时导入并检查签名；source 可以省略（函数自己收集数据）。"""
    if "kind" in raw:
        raise _fail(
            where, "options 'draw' and 'kind' cannot be combined: a chart is drawn by its draw function or is a built-in kind"
        )
    for key in KIND_ONLY:
        if key in raw:
            raise _fail(where, f"option '{key}' applies to the built-in kinds; a chart with 'draw' draws its own axes")
    try:
        draw = drawing.parse(raw["draw"])
        draw = dataclasses.replace(draw, code=drawing.resolve(draw).code)
    except drawing.DrawError as exc:
        raise _fail(where, str(exc)) from None
    if "source" in raw:
        source_type, source_params, series = _source(where, raw, optional_series=True)
    else:
        for key in ("series", "window"):
            if key in raw:
                raise _fail(where, f"option '{key}' needs a 'source' (without one, the draw function gathers its own data)")
        source_type, source_params, series = None, {}, ()
    return ChartSpec(**_common(where, name, raw, source_type, source_params, series), kind=None, draw=draw)


def _common(
    where: str, name: str, raw: Mapping[str, Any], source_type: str | None, source_params: Mapping[str, Any],
    series: tuple[SeriesSpec, ...],
) -> dict[str, Any]:  # fmt: skip
    """内置类型与 draw 图表共有的选项：标题、数据源、窗口、大小、dpi、主题。"""
    size = raw.get("size", [800, 400])
    if not isinstance(size, list | tuple) or len(size) != 2:
        raise _fail(where, "option 'size' must be [width, height] in pixels")
    points, span = _window(where, raw.get("window", 300))
    return {
        "name": name,
        "title": _text(where, "title", raw["title"], required=True),
        "source_type": source_type,
        "source_params": source_params,
        "series": series,
        "points": points,
        "span": span,
        "width": _number(where, "size", size[0], 100, 4000, integer=True),
        "height": _number(where, "size", size[1], 100, 4000, integer=True),
        "dpi": _number(where, "dpi", raw.get("dpi", 100), 50, 400, integer=True),
        "theme": _choice(where, "theme", raw.get("theme", "light"), THEMES),
    }


def _source(
    where: str, raw: Mapping[str, Any], optional_series: bool = False
) -> tuple[str, Mapping[str, Any], tuple[SeriesSpec, ...]]:
    """数据源与序列。optional_series：draw 图表的数据源不声明列（python）又没写 series 时，窗口里是函数返回的全部列。"""
    if not isinstance(raw["source"], Mapping):
        raise _fail(where, "option 'source' must be a dict with a 'type'")
    try:
        source_type, source_params = sources.normalize(raw["source"])
    except sources.SourceError as exc:
        raise _fail(where, str(exc)) from None
    columns = sources.SOURCES[source_type].columns(source_params)
    if optional_series and columns is None and raw.get("series") is None:
        return source_type, source_params, ()
    series = _series(where, raw.get("series"), source_type, columns)
    if columns is None and source_type == "python":
        # 事先不知道列的数据源（python）：告诉它图表要画哪些列，结果缺列时它在取数时就报错并指明缺的列
        source_params = {**source_params, "columns": [s.column for s in series]}
    return source_type, source_params, series


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
                raise ConfigError(f"{name}={value!r}: must be a whole number of seconds from 1 to {LONGEST_INTERVAL} (366 days)")
        if low > high:
            raise ConfigError(f"LIVECHART_MIN_INTERVAL={low!r} is above LIVECHART_MAX_INTERVAL={high!r}")
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
            raise JobSpecError(f"'{unit}' must be a number, got {value!r}")
        if value > limits.unit_max()[unit]:
            raise JobSpecError(
                f"'{unit}' must be at most {limits.unit_max()[unit]} (LIVECHART_MAX_INTERVAL is {limits.high:g} s), got {value!r}"
            )
    if not any(units.values()):
        raise JobSpecError("an interval job needs one of weeks, days, hours, minutes or seconds")
    seconds = sum(value * UNIT_SECONDS[unit] for unit, value in units.items())
    if seconds < limits.low:
        raise JobSpecError(f"interval {seconds:g} s is below the minimum of {limits.low:g} s")
    if seconds > limits.high:
        if not cap:
            raise JobSpecError(f"interval {seconds:g} s is above the maximum of {limits.high:g} s (LIVECHART_MAX_INTERVAL)")
        seconds = limits.high
    if seconds != int(seconds):
        raise JobSpecError(f"interval {seconds:g} s must be a whole number of seconds")
    for unit, value in units.items():
        if value < 0 or not isinstance(value, int):
            raise JobSpecError(f"'{unit}' must be a whole number ≥ 0 written as an integer, got {value!r}")
    return float(seconds)


def _check_trigger(job: Mapping[str, Any]) -> None:
    """先查触发器：cron / date 的任务报“只支持间隔触发”，而不是它的第一个未知字段。"""
    if "trigger" in job and job["trigger"] != "interval":
        raise JobSpecError(f'{ONLY_INTERVAL}, got {job["trigger"]!r}; send {{"trigger": "interval", "seconds": N}}')


def _check_keys(job: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """不支持的间隔参数说明原因；其余未知字段列出允许的字段。"""
    for key in job:
        if key in UNSUPPORTED and key not in allowed:
            raise JobSpecError(f"'{key}' is not supported: {UNSUPPORTED[key]}")
        if key not in allowed and key not in INTERVAL_ARGS:
            raise JobSpecError(f"field {key!r} is not allowed (allowed: {', '.join(allowed + INTERVAL_ARGS)})")


def _check_redraw(job_id: Any, job: Mapping[str, Any], charts: Mapping[str, ChartSpec], patch: bool) -> str:
    """任务 id 必须是 redraw-<图表>，func/kwargs 必须重绘这个图表；返回图表名。"""
    if not isinstance(job_id, str) or not job_id.startswith(JOB_ID_PREFIX):
        raise JobSpecError(f"a job id must be '{JOB_ID_PREFIX}<chart>', got {job_id!r}")
    chart = job_id[len(JOB_ID_PREFIX) :]
    if chart not in charts:
        raise JobSpecError(f"job {job_id!r} names unknown chart {chart!r} (charts: {', '.join(charts)})")
    if (not patch or "func" in job) and job.get("func") != JOB_FUNC:
        raise JobSpecError(f"'func' must be {JOB_FUNC!r}; other functions cannot be scheduled")
    if (not patch or "kwargs" in job) and job.get("kwargs") != {"chart": chart}:
        raise JobSpecError(f"'kwargs' of job {job_id!r} must be {{\"chart\": {chart!r}}}")
    return chart


def _options(job: Mapping[str, Any]) -> dict[str, Any]:
    """校验并取出任务选项（名称、错过运行的宽限、合并错过的运行）。"""
    if "name" in job and (not isinstance(job["name"], str) or not job["name"]):
        raise JobSpecError("'name' must be a non-empty string")
    if "coalesce" in job and not isinstance(job["coalesce"], bool):
        raise JobSpecError("'coalesce' must be true or false")
    if "misfire_grace_time" in job:
        grace = job["misfire_grace_time"]
        if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int) or grace < 1):
            raise JobSpecError("'misfire_grace_time' must be a whole number of seconds ≥ 1 or null")
    return {key: job[key] for key in JOB_OPTIONS if key in job}


def check_job(job: Any, charts: Mapping[str, ChartSpec], limits: IntervalLimits, *, cap: bool = False) -> dict[str, Any]:
    """校验一个新任务的定义（POST /scheduler/jobs 与配置的 JOBS）；返回期望状态 {seconds, 选项…}。

    只允许 livechart 自己的重绘函数，且 redraw-<name> 必须重绘 <name>：
    /scheduler API 原本可以运行任何可导入的函数（见 docs/pitfalls.md 第 1 条）。不合法时抛 JobSpecError。
    """
    if not isinstance(job, Mapping):
        raise JobSpecError("the body must be a JSON object")
    _check_trigger(job)
    _check_keys(job, JOB_KEYS)
    _check_redraw(job.get("id"), job, charts, patch=False)
    options = _options(job)
    if "trigger" not in job:
        raise JobSpecError(f'{ONLY_INTERVAL}; send {{"trigger": "interval", "seconds": N}}')
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
            raise JobSpecError(f"{key!r} is read-only (now {shown!r}); leave it out or send the current value")


def check_patch(body: Any, current: Mapping[str, Any], charts: Mapping[str, ChartSpec], limits: IntervalLimits) -> dict[str, Any]:
    """校验 PATCH /scheduler/jobs/<id> 的请求体；current 是任务的当前字段（id、args、max_instances、start_date…）。

    返回要改的期望状态 {seconds?, 选项…}：给了任一间隔单位时，间隔即为所给单位之和（没给的单位为 0），
    trigger 可以省略。GET 的结果改几个字段后原样 PATCH 回来也可以。不合法时抛 JobSpecError，什么都不改。
    """
    if not isinstance(body, Mapping):
        raise JobSpecError("the body must be a JSON object")
    _check_trigger(body)
    _check_keys(body, PATCH_KEYS + READ_ONLY)
    _check_redraw(current["id"], body, charts, patch=True)
    _check_read_only(body, current)
    changes = _options(body)
    if any(unit in body for unit in INTERVAL_ARGS):
        changes["seconds"] = interval_seconds(body, limits, cap=True)
    return changes


def parse_settings(config: Mapping[str, Any]) -> tuple[dict[str, ChartSpec], dict[str, float]]:
    """校验 CHARTS 与 JOBS：返回 (图表名 → 规格, 图表名 → 间隔秒数)；出错时抛 ConfigError。"""
    raw_charts = config.get("CHARTS")
    if not isinstance(raw_charts, Mapping) or not raw_charts:
        raise ConfigError("CHARTS: at least one chart must be configured (a dict of name → spec)")
    charts = {name: parse_chart(name, raw) for name, raw in raw_charts.items()}
    limits = IntervalLimits.of(config)
    raw_jobs = config.get("JOBS")
    if not isinstance(raw_jobs, list | tuple):
        raise ConfigError("JOBS: must be a list of Flask-APScheduler job dicts")
    intervals: dict[str, float] = {}
    for index, job in enumerate(raw_jobs):
        label = job.get("id", f"#{index}") if isinstance(job, Mapping) else f"#{index}"
        try:
            desired = check_job(job, charts, limits)
        except JobSpecError as exc:
            raise ConfigError(f"JOBS[{label!r}]: {exc}") from None
        chart = job["kwargs"]["chart"]
        if chart in intervals:
            raise ConfigError(f"JOBS[{label!r}]: chart {chart!r} already has a job; one job per chart")
        intervals[chart] = desired["seconds"]
    for name in charts:
        if name not in intervals:
            example = {"id": job_id_for(name), "func": JOB_FUNC, "kwargs": {"chart": name}, "trigger": "interval", "seconds": 2}
            raise ConfigError(f"CHARTS[{name!r}]: has no job; add one to JOBS, e.g. {example!r}")
    return charts, intervals
