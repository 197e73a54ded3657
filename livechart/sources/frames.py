"""数据行的构造与时间解析：时间戳统一为本地时间、无时区（与图上显示的时刻一致）。"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from tzlocal import get_localzone


def now() -> pd.Timestamp:
    """当前本地时间（无时区）。"""
    return pd.Timestamp.now()


def empty_frame(columns: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """没有新数据时返回的空 DataFrame。"""
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns}, index=pd.DatetimeIndex([], name="time"))


def one_row(values: Mapping[str, float], at: pd.Timestamp | None = None) -> pd.DataFrame:
    """一行数据（时间默认为现在）。"""
    return pd.DataFrame({k: [float(v)] for k, v in values.items()}, index=pd.DatetimeIndex([at or now()], name="time"))


def to_local_naive(values: Any) -> pd.DatetimeIndex:
    """把时间列（字符串、datetime 或 epoch 秒）转成本地、无时区的 DatetimeIndex；无法解析的为 NaT。

    无时区的时间按本地时间理解；带时区的换算到本地时区。
    """
    series = pd.Series(values)
    zone = get_localzone()
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = series
    elif pd.api.types.is_numeric_dtype(series) or (len(series) and pd.to_numeric(series, errors="coerce").notna().all()):
        # epoch 秒（包括 CSV 里以文本保存的数字）
        parsed = pd.to_datetime(pd.to_numeric(series, errors="coerce"), unit="s", errors="coerce", utc=True)
    else:
        try:
            parsed = pd.to_datetime(series, errors="coerce", format="mixed")
        except (TypeError, ValueError):
            parsed = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
        if parsed.dtype == object:  # 有的带时区、有的不带
            parsed = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(zone).dt.tz_localize(None)
    return pd.DatetimeIndex(parsed, name="time")
