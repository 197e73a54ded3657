"""图表选项的取值检查：数字范围、可选值、开关、文本、y 范围与窗口。

每个函数检查一个选项的值，合法时返回它（规范化之后），不合法时抛出 OptionError；
spec.parse_chart 在消息前加上出错的图表（CHARTS['名字']: …），变成 ConfigError。本模块是纯数据代码，不导入 Flask。
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from livechart.durations import duration_text

# 按时长的窗口最多保留的点数（内存上限）
MAX_POINTS = 100_000
# 按时长的窗口最长一年（366 天）
LONGEST_WINDOW = 366 * 86400


class OptionError(ValueError):
    """一个图表选项的值不合法；消息指明选项，不含图表名（由 spec.parse_chart 加上）。"""


def number(key: str, value: Any, low: float, high: float, integer: bool = False) -> Any:
    """校验数值在 [low, high] 内；bool 不算数字。"""
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        raise OptionError(f"选项 '{key}' 必须是{'整数' if integer else '数字'}，收到 {value!r}")
    if not low <= value <= high:
        raise OptionError(f"选项 '{key}' = {value!r} 超出范围 [{low}, {high}]")
    return value


def choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    """校验值是 choices 之一。"""
    if value not in choices:
        raise OptionError(f"选项 '{key}' 必须是 {'、'.join(choices)} 之一，收到 {value!r}")
    return value


def flag(key: str, value: Any) -> bool:
    """校验值是 true 或 false。"""
    if not isinstance(value, bool):
        raise OptionError(f"选项 '{key}' 必须是 True 或 False，收到 {value!r}")
    return value


def text(key: str, value: Any, required: bool = False) -> str:
    """校验值是字符串；required 时不能为空白。"""
    if not isinstance(value, str) or (required and not value.strip()):
        raise OptionError(f"选项 '{key}' 必须是{'非空' if required else ''}字符串")
    return value


def limits(key: str, value: Any) -> tuple[float, float] | None:
    """y 范围：[low, high]，或 None / "auto" 表示自动。"""
    if value is None or value == "auto":
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise OptionError(f"选项 '{key}' 必须是 [下限, 上限] 或 \"auto\"")
    low = number(key, value[0], -1e15, 1e15)
    high = number(key, value[1], -1e15, 1e15)
    if low >= high:
        raise OptionError(f"选项 '{key}' 的下限必须小于上限，收到 {list(value)!r}")
    return (float(low), float(high))


def window(value: Any) -> tuple[int, float | None]:
    """窗口：点数（整数），或时长字符串（如 "10min"、"2h"、"1D"）；返回 (最多点数, 时长秒数或 None)。"""
    if isinstance(value, str):
        try:
            span = pd.Timedelta(value).total_seconds()
        except (ValueError, TypeError):
            raise OptionError(f"选项 'window' = {value!r} 不是时长（例如 '90s'、'10min'、'2h'、'1D'）") from None
        if not 1 <= span <= LONGEST_WINDOW:
            raise OptionError(f"选项 'window' = {value!r} 必须在 1 秒到 {duration_text(LONGEST_WINDOW)}之间")
        return MAX_POINTS, span
    return number("window", value, 2, MAX_POINTS, integer=True), None
