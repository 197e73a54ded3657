"""图表规格：CHARTS 中一项的解析与校验（启动时快速失败），以及图表与它的重绘任务之间的对应（任务 id）。

单个选项的取值检查在 livechart/chart_options.py，任务定义与间隔在 livechart/jobspec.py，
整个配置（CHARTS 与 JOBS 合起来）的校验在 livechart/settings.py。本模块是纯数据代码，不导入 Flask。
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from matplotlib.colors import is_color_like

from livechart import drawing
from livechart import sources
from livechart.chart_options import OptionError
from livechart.chart_options import choice
from livechart.chart_options import flag
from livechart.chart_options import limits
from livechart.chart_options import number
from livechart.chart_options import text
from livechart.chart_options import window
from livechart.themes import THEMES as PALETTES

# 图表的重绘任务：运行的函数与 id 的前缀（id 是 redraw-<图表名>；两个方向的换算只用 job_id_for 与 chart_of_job）
JOB_FUNC = "livechart.jobs:redraw"
_JOB_ID_PREFIX = "redraw-"

KINDS = ("line", "area", "bar", "step", "scatter")
UNITS = ("plain", "percent", "bytes", "bytes/s")
# 主题名只在 themes.py 里定义一次（配色表的键）
THEMES = tuple(PALETTES)
AXES = ("left", "right")
CHART_KEYS = (
    "title", "kind", "stacked", "source", "series", "ylabel", "y2label", "unit", "y2unit", "ylim", "y2lim",
    "window", "size", "dpi", "theme", "annotate_last", "legend", "draw",
)  # fmt: skip
# 只属于内置类型的选项：有 draw 的图表自己画坐标轴，给了这些就是配置错误
KIND_ONLY = ("kind", "stacked", "ylabel", "y2label", "unit", "y2unit", "ylim", "y2lim", "annotate_last", "legend")
SERIES_KEYS = ("label", "axis", "color")


class ConfigError(Exception):
    """配置错误：消息指明出错的图表、任务或设置。"""


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
        source = json.dumps([self.source_type, self.source_params], sort_keys=True, default=repr)
        return hashlib.blake2b(source.encode(), digest_size=8).hexdigest()

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
    return f"{_JOB_ID_PREFIX}{chart}"


def chart_of_job(job_id: Any) -> str | None:
    """任务 id → 图表名（job_id_for 的反函数）；不是图表重绘任务的 id（别的前缀、不是字符串）为 None。"""
    if not isinstance(job_id, str) or not job_id.startswith(_JOB_ID_PREFIX):
        return None
    return job_id[len(_JOB_ID_PREFIX) :]


def _series(raw: Any, source_type: str, columns: tuple[str, ...] | None) -> tuple[SeriesSpec, ...]:
    """序列：{列: 标签} 或 {列: {label, axis, color}} 或 [列, …]；省略时取数据源的全部列。"""
    if raw is None:
        if columns is None:
            raise OptionError(f"缺少选项 'series'：数据源 {source_type!r} 没有声明它的列")
        raw = list(columns)
    if isinstance(raw, list | tuple):
        raw = dict.fromkeys(raw)
    if not isinstance(raw, Mapping) or not raw:
        raise OptionError("选项 'series' 必须是非空的 {列: 标签} 字典（或者列的列表）")
    result = []
    for column, options in raw.items():
        if columns is not None and column not in columns:
            raise OptionError(f"数据源 {source_type!r} 不产生序列 {column!r}（它的列：{'、'.join(columns)}）")
        if options is None or isinstance(options, str):
            options = {"label": options} if options else {}
        if not isinstance(options, Mapping):
            raise OptionError(f"序列 {column!r} 必须是标签，或者含 {'、'.join(SERIES_KEYS)} 的字典")
        unknown = sorted(set(options) - set(SERIES_KEYS))
        if unknown:
            raise OptionError(f"序列 {column!r}：未知选项 {unknown[0]!r}（可用的选项：{'、'.join(SERIES_KEYS)}）")
        label = options.get("label") or sources.default_label(source_type, column)
        axis = options.get("axis", "left")
        if axis not in AXES:
            raise OptionError(f"序列 {column!r}：选项 'axis' 必须是 {'、'.join(AXES)} 之一，收到 {axis!r}")
        color = options.get("color")
        if color is not None and not is_color_like(color):
            raise OptionError(f"序列 {column!r}：选项 'color' = {color!r} 不是 Matplotlib 认识的颜色")
        result.append(SeriesSpec(column=column, label=text("label", label), axis=axis, color=color))
    return tuple(result)


def parse_chart(name: Any, raw: Any) -> ChartSpec:
    """把 CHARTS 中的一项解析为 ChartSpec；出错时抛出指明图表与选项的 ConfigError（CHARTS['名字']: …）。"""
    try:
        if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
            raise OptionError("图表名不能为空，只能由字母、数字、'-' 和 '_' 组成")
        if not isinstance(raw, Mapping):
            raise OptionError("图表必须是字典")
        unknown = sorted(set(raw) - set(CHART_KEYS))
        if unknown:
            raise OptionError(f"未知选项 {unknown[0]!r}（可用的选项：{'、'.join(CHART_KEYS)}）")
        if "title" not in raw:
            raise OptionError("缺少选项 'title'")
        return _parse_drawn(name, raw) if "draw" in raw else _parse_builtin(name, raw)
    except OptionError as exc:
        raise ConfigError(f"CHARTS[{name!r}]：{exc}") from None


def _parse_builtin(name: str, raw: Mapping[str, Any]) -> ChartSpec:
    """内置类型（line、area、bar、step、scatter）的图表：必须有数据源，坐标轴的选项由 livechart 画。"""
    if "source" not in raw:
        raise OptionError("缺少选项 'source'（或者 'draw'：画出这个图表的函数，它也可以自己取数据）")
    source_type, source_params, series = _source(raw)
    kind = choice("kind", raw.get("kind", "line"), KINDS)
    stacked = flag("stacked", raw.get("stacked", False))
    if stacked and kind not in ("area", "bar"):
        raise OptionError(f"选项 'stacked' 只适用于 area 和 bar 图，不适用于 {kind!r}")
    has_right = any(s.axis == "right" for s in series)
    for key in ("y2label", "y2unit", "y2lim"):
        if key in raw and not has_right:
            raise OptionError(f'选项 \'{key}\' 需要至少一条 "axis": "right" 的序列')
    return ChartSpec(
        **_common(name, raw, source_type, source_params, series),
        kind=kind,
        stacked=stacked,
        ylabel=text("ylabel", raw.get("ylabel", "")),
        y2label=text("y2label", raw.get("y2label", "")),
        unit=choice("unit", raw.get("unit", "plain"), UNITS),
        y2unit=choice("y2unit", raw.get("y2unit", "plain"), UNITS),
        ylim=limits("ylim", raw.get("ylim")),
        y2lim=limits("y2lim", raw.get("y2lim")),
        annotate_last=flag("annotate_last", raw.get("annotate_last", False)),
        legend=flag("legend", raw.get("legend", len(series) > 1)),
    )


def _parse_drawn(name: str, raw: Mapping[str, Any]) -> ChartSpec:
    """有 draw 的图表：函数在启动时导入并检查签名；source 可以省略（函数自己收集数据）。"""
    if "kind" in raw:
        raise OptionError("选项 'draw' 和 'kind' 不能同时使用：图表要么由它的绘图函数来画，要么是内置类型")
    for key in KIND_ONLY:
        if key in raw:
            raise OptionError(f"选项 '{key}' 只适用于内置类型：有 'draw' 的图表自己画坐标轴")
    try:
        draw = drawing.parse(raw["draw"])
        draw = dataclasses.replace(draw, code=drawing.resolve(draw).code)
    except drawing.DrawError as exc:
        raise OptionError(str(exc)) from None
    if "source" in raw:
        source_type, source_params, series = _source(raw, optional_series=True)
    else:
        for key in ("series", "window"):
            if key in raw:
                raise OptionError(f"选项 '{key}' 需要 'source'（没有数据源时，由绘图函数自己取数据）")
        source_type, source_params, series = None, {}, ()
    return ChartSpec(**_common(name, raw, source_type, source_params, series), kind=None, draw=draw)


def _common(
    name: str, raw: Mapping[str, Any], source_type: str | None, source_params: Mapping[str, Any],
    series: tuple[SeriesSpec, ...],
) -> dict[str, Any]:  # fmt: skip
    """内置类型与 draw 图表共有的选项：标题、数据源、窗口、大小、dpi、主题。"""
    size = raw.get("size", [800, 400])
    if not isinstance(size, list | tuple) or len(size) != 2:
        raise OptionError("选项 'size' 必须是 [宽, 高]（像素）")
    points, span = window(raw.get("window", 300))
    return {
        "name": name,
        "title": text("title", raw["title"], required=True),
        "source_type": source_type,
        "source_params": source_params,
        "series": series,
        "points": points,
        "span": span,
        "width": number("size", size[0], 100, 4000, integer=True),
        "height": number("size", size[1], 100, 4000, integer=True),
        "dpi": number("dpi", raw.get("dpi", 100), 50, 400, integer=True),
        "theme": choice("theme", raw.get("theme", "light"), THEMES),
    }


def _source(raw: Mapping[str, Any], optional_series: bool = False) -> tuple[str, Mapping[str, Any], tuple[SeriesSpec, ...]]:
    """数据源与序列。optional_series：draw 图表的数据源不声明列（python）又没写 series 时，窗口里是函数返回的全部列。"""
    if not isinstance(raw["source"], Mapping):
        raise OptionError("选项 'source' 必须是含 'type' 的字典")
    try:
        source_type, source_params = sources.normalize(raw["source"])
    except sources.SourceError as exc:
        raise OptionError(str(exc)) from None
    columns = sources.SOURCES[source_type].columns(source_params)
    if optional_series and columns is None and raw.get("series") is None:
        return source_type, source_params, ()
    series = _series(raw.get("series"), source_type, columns)
    if columns is None and source_type == "python":
        # 事先不知道列的数据源（python）：告诉它图表要画哪些列，结果缺列时它在取数时就报错并指明缺的列
        source_params = {**source_params, "columns": [s.column for s in series]}
    return source_type, source_params, series
