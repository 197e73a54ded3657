"""图表数据的导出：把滚动窗口换成客户端要的表（JSON 的行或 CSV），供 GET /api/charts/<name>/data 使用。

本模块是纯数据代码，不导入 Flask。窗口的索引是本地时间、无时区（livechart/sources/frames.py）；
导出时按本机时区加上偏移，写成精确到微秒的 ISO 8601（如 2024-05-01T12:00:00.000000+08:00），
客户端不必猜时区。夏令时结束时重复的那一小时按较早的一次（夏令时）理解，与 Python 的 fold=0 相同；
不存在的时刻（夏令时开始时跳过的那一小时）前移到跳过之后。
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import tzinfo
from typing import Any

import numpy as np
import pandas as pd

from livechart.chart_options import MAX_POINTS

TIME_COLUMN = "time"
FORMATS = ("json", "csv")
# limit 的默认值与上限：上限是任何窗口能有的最多点数
DEFAULT_LIMIT = 1000
MAX_LIMIT = MAX_POINTS


class QueryError(ValueError):
    """查询参数不合法（客户端错误，400）：消息指明参数与合法的写法。"""


@dataclass(frozen=True)
class Table:
    """导出的表：每行的时间（ISO 8601，带偏移）与各序列的值（缺失为 NaN）。"""

    columns: tuple[str, ...]
    times: list[str]
    # 形状为 (行数, 列数) 的 float64；NaN 与 ±inf 都已换成 NaN
    values: np.ndarray
    # since 之后的行数（limit 截断之前）；大于 len(times) 说明 limit 截掉了较早的行
    total: int


def _localize(index: pd.DatetimeIndex, zone: tzinfo) -> pd.DatetimeIndex:
    """本地无时区的时间 → 带 zone 时区的时间（已带时区的换算到 zone）。"""
    if index.tz is not None:
        return index.tz_convert(zone)
    # ambiguous=True：重复的一小时取较早的一次（夏令时），与 Python 的 fold=0 一致
    return index.tz_localize(zone, ambiguous=np.ones(len(index), dtype=bool), nonexistent="shift_forward")


def parse_since(text: str, zone: tzinfo) -> pd.Timestamp:
    """since → UTC 时刻。ISO 8601（datetime.fromisoformat），带或不带偏移；不带偏移的按本地时间（zone）理解。"""
    example = "请用 ISO 8601，如 2024-05-01T12:00:00+08:00、2024-05-01T04:00:00Z 或 2024-05-01T12:00:00（本地时间）"
    try:
        parsed = pd.Timestamp(datetime.fromisoformat(text))
        if parsed.tzinfo is None:
            parsed = parsed.tz_localize(zone, ambiguous=True, nonexistent="shift_forward")
        return parsed.tz_convert("UTC")
    except (ValueError, OverflowError):
        raise QueryError(f"since={text!r} 不是合法的时间；{example}") from None


def parse_limit(text: str) -> int:
    """limit → 0 到 MAX_LIMIT 的整数（只接受十进制数字）。"""
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_LIMIT)) and int(text) <= MAX_LIMIT):
        raise QueryError(f"limit={text!r} 必须是 0 到 {MAX_LIMIT} 之间的整数")
    return int(text)


def parse_format(text: str) -> str:
    """format → json 或 csv。"""
    if text not in FORMATS:
        raise QueryError(f"不支持 format={text!r}；可用的格式：{', '.join(FORMATS)}")
    return text


def select(
    window: pd.DataFrame | None,
    columns: Sequence[str],
    zone: tzinfo,
    since: pd.Timestamp | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Table:
    """从窗口取出 since 之后（不含）的最后 limit 行、给定的列（窗口里没有的列为 NaN）。

    比较按微秒进行，与输出的时间同一精度：把上一次拿到的最后一行的时间作为 since 传回，恰好从下一行开始。
    """
    if window is None:
        window = pd.DataFrame(columns=list(columns), index=pd.DatetimeIndex([], name=TIME_COLUMN))
    index = pd.DatetimeIndex(window.index)
    if index.hasnans:
        present = ~np.asarray(index.isna())
        window, index = window[present], index[present]
    local = _localize(index, zone)
    if since is not None:
        keep = np.asarray(local.tz_convert("UTC").floor("us") > since)
        window, local = window[keep], local[keep]
    total = len(window)
    start = max(0, total - limit)
    window, local = window.iloc[start:], local[start:]
    numeric = window.reindex(columns=list(columns)).apply(pd.to_numeric, errors="coerce")
    values = numeric.to_numpy(dtype="float64", na_value=np.nan).reshape(len(window), len(columns))
    # 新数组（pandas 的 to_numpy 可能返回只读视图）：±inf 与 NaN 一样按缺失处理
    values = np.where(np.isfinite(values), values, np.nan)
    return Table(
        columns=tuple(columns),
        times=[stamp.isoformat(timespec="microseconds") for stamp in local],
        values=values,
        total=total,
    )


def rows(table: Table) -> list[list[Any]]:
    """JSON 的行：[时间, 值, …]；缺失的值为 None（JSON 的 null，绝不是不合法的 NaN）。"""
    cells = table.values.astype(object)
    cells[np.isnan(table.values)] = None
    return [[stamp, *values] for stamp, values in zip(table.times, cells.tolist(), strict=True)]


def to_csv(table: Table) -> str:
    """CSV（pandas 的写出器）：表头 time 与各列名，缺失的值为空。"""
    frame = pd.DataFrame(table.values, columns=list(table.columns))
    frame.insert(0, TIME_COLUMN, table.times, allow_duplicates=True)
    return frame.to_csv(index=False, lineterminator="\n")
