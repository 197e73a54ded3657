"""数据质量：来自未来的行与超出范围的值。什么算“太靠后”、什么算“超出范围”只在这里判断。

- 时间比服务器时钟晚了 LIVECHART_FUTURE_MARGIN 秒以上的行（写入方的时钟或时区错了）不进滚动窗口：
  否则一行 2099 年的数据会让按时长裁剪的窗口（从最后一行算起）丢掉所有真实数据，x 轴也被挤到一边。
  这样的行丢弃并计数（同一时刻只计一次：不带 :since 的查询每个节拍都会再读到它），
  每个图表只在第一次丢弃时写一行警告，之后只在状态（/api/charts 的 data_warnings）里计数。
- 不是有限数、或绝对值超过 MAX_MAGNITUDE 的值（±1e308、inf、各种“缺失”标记）不画，也不参与自动 y 范围，
  否则一个这样的值就把真实数据压成一条线，甚至让范围溢出；窗口里有这样的值时状态里有一条警告。
NaN 是缺失值（图上的缺口），不算超出范围。本模块是纯数据代码，不导入 Flask：日志器由调用方传入。
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from livechart.durations import spoken
from livechart.sources.frames import now
from livechart.spec import ConfigError

# 绝对值超过它的值算超出范围：远大于真实的计量（1 EB 约 1.2e18），又远小于浮点溢出；
# 10 条堆叠起来也还能正常计算范围与刻度
MAX_MAGNITUDE = 1e18
# LIVECHART_FUTURE_MARGIN 的上限（秒，一年）；None 表示不检查（比如画预测值的图表）
MAX_MARGIN = 365 * 86400
# 为“同一时刻只计一次”记住的、被丢弃的行的时刻最多这么多个
MAX_REMEMBERED = 10_000


def future_margin(value: Any) -> float | None:
    """校验 LIVECHART_FUTURE_MARGIN：0 到一年之间的秒数，或 None（不丢弃未来的行）。"""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_MARGIN:
        raise ConfigError(
            f"LIVECHART_FUTURE_MARGIN 必须是 0 到 {MAX_MARGIN}（一年）之间的秒数（或 None：保留时间在未来的行），收到 {value!r}"
        )
    return float(value)


def latest_allowed(margin: float | None, clock: pd.Timestamp | None = None) -> pd.Timestamp | None:
    """行的时间最晚可以是什么时候：现在（本地时间、无时区，与行的时间一致）加 margin 秒；None 表示不限。"""
    if margin is None:
        return None
    return (clock or now()) + pd.Timedelta(seconds=margin)


def split_future(rows: pd.DataFrame, latest: pd.Timestamp | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """把行分成 (留下的, 时间晚于 latest 的)。"""
    if latest is None or rows.empty:
        return rows, rows.iloc[:0]
    ahead = rows.index > latest
    return rows[~ahead], rows[ahead]


def out_of_range(values: np.ndarray) -> np.ndarray:
    """哪些值超出范围（±inf，或绝对值超过 MAX_MAGNITUDE）；NaN 是缺失值，不算。"""
    with np.errstate(invalid="ignore"):
        return np.isinf(values) | (np.abs(values) > MAX_MAGNITUDE)


def drawable(values: np.ndarray) -> np.ndarray:
    """要画的值：超出范围的换成 NaN（图上是缺口，也不参与自动 y 范围）。"""
    return np.where(out_of_range(values), np.nan, values)


def _iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


@dataclass
class DataQuality:
    """一个图表（在本进程中）的数据质量记录：丢弃的未来行与窗口里超出范围的值。"""

    chart: str
    # 图表画的列（只检查这些列的值）
    columns: tuple[str, ...]
    clock: Any = field(default=time.time)
    # 丢弃的未来行：总数（同一时刻只计一次）、最近一次丢弃的时刻（epoch）、那一次里最晚的行时间、当时的 margin
    future_count: int = 0
    future_at: float | None = None
    future_row: pd.Timestamp | None = None
    future_margin: float = 0.0
    remembered: set[pd.Timestamp] = field(default_factory=set)
    # 当前窗口里超出范围的值：个数、发现的时刻（epoch）、含这种值的最晚一行的时间
    range_count: int = 0
    range_at: float | None = None
    range_row: pd.Timestamp | None = None
    logged: set[str] = field(default_factory=set)

    def admit(self, rows: pd.DataFrame, margin: float | None, logger: logging.Logger) -> pd.DataFrame:
        """去掉时间比现在晚 margin 秒以上的行并计数；第一次丢弃时写一行警告。返回留下的行。"""
        latest = latest_allowed(margin)
        kept, ahead = split_future(rows, latest)
        if latest is not None and self.remembered:
            # 已经不在未来的时刻不会再被丢弃：不必再记住
            self.remembered = {moment for moment in self.remembered if moment > latest}
        if ahead.empty:
            return kept
        assert margin is not None
        times = set(ahead.index)
        self.future_count += len(times - self.remembered)
        self.remembered |= times
        if len(self.remembered) > MAX_REMEMBERED:
            self.remembered = set(sorted(self.remembered)[-MAX_REMEMBERED // 2 :])
        self.future_at = self.clock()
        self.future_row = ahead.index.max()
        self.future_margin = margin
        if "future" not in self.logged:
            self.logged.add("future")
            logger.warning(
                "图表 %s 丢弃了时间比服务器时钟晚 %s以上的行（%s）：检查写入方的时钟或时区；"
                "之后的只计数，见 /api/charts/%s 的 data_warnings",
                self.chart, spoken(margin), self.future_row.isoformat(), self.chart,
            )  # fmt: skip
        return kept

    def check(self, window: pd.DataFrame, logger: logging.Logger) -> None:
        """数一数窗口里超出范围的值（只看图表画的列）；第一次发现时写一行警告。"""
        columns = [column for column in self.columns if column in window.columns]
        values = window[columns].to_numpy(dtype=float) if columns and len(window) else np.empty((0, 0))
        bad = out_of_range(values)
        self.range_count = int(bad.sum())
        if not self.range_count:
            self.range_at = self.range_row = None
            return
        self.range_at = self.clock()
        self.range_row = window.index[np.asarray(bad.any(axis=1))][-1]
        if "range" not in self.logged:
            self.logged.add("range")
            logger.warning(
                "图表 %s 的数据里有无穷大或绝对值超过 %g 的值（%s 的一行）：不画，也不参与 y 轴范围；"
                "之后只在 /api/charts/%s 的 data_warnings 里报告",
                self.chart, MAX_MAGNITUDE, self.range_row.isoformat(), self.chart,
            )  # fmt: skip

    def report(self) -> list[dict[str, Any]]:
        """状态里的 data_warnings：每种问题一条（code、message、count、at、row_time），没有问题时为空列表。"""
        warnings = []
        if self.future_count and self.future_at is not None and self.future_row is not None:
            warnings.append({
                "code": "future_rows",
                "message": f"丢弃了 {self.future_count} 行时间比服务器时钟晚 {spoken(self.future_margin)}以上的数据"
                           f"（最晚的一行：{self.future_row.isoformat()}）：请检查写入方的时钟或时区",
                "count": self.future_count,
                "at": _iso_utc(self.future_at),
                "row_time": self.future_row.isoformat(),
            })  # fmt: skip
        if self.range_count and self.range_at is not None and self.range_row is not None:
            warnings.append({
                "code": "values_out_of_range",
                "message": f"窗口里有 {self.range_count} 个值是无穷大或绝对值超过 {MAX_MAGNITUDE:g}"
                           f"（最晚的在 {self.range_row.isoformat()} 的一行）：不画，也不参与 y 轴范围",
                "count": self.range_count,
                "at": _iso_utc(self.range_at),
                "row_time": self.range_row.isoformat(),
            })  # fmt: skip
        return warnings
