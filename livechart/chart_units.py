"""数的写法：百分比、二进制前缀的字节（KiB、MiB……）、普通数字（很大或很小时写 e 指数）。

内置类型（livechart/charts.py）的 y 轴刻度与最新值标注都用这里的写法：
一个轴上的数用同一个前缀/后缀、同样的小数位数；字节轴的刻度落在 1024 的整数次幂的整倍数上。
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import Formatter
from matplotlib.ticker import Locator
from matplotlib.ticker import MaxNLocator

BINARY_PREFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
# 取整到“好看”的刻度值时可用的步长（MaxNLocator 的 steps）
NICE_STEPS = [1, 2, 2.5, 5, 10]


def format_value(unit: str, value: float, precise: bool = False) -> str:
    """按单位格式化一个数：百分比、二进制前缀的字节（KiB、MiB……）、或普通数字（单独一个数，不看坐标轴）。"""
    if not np.isfinite(value):
        return ""
    if unit == "percent":
        return f"{value:.1f}%" if precise else f"{value:g}%"
    if unit in ("bytes", "bytes/s"):
        # Matplotlib 只有十进制的 EngFormatter；字节用 1024 进制
        scaled, index = float(value), 0
        while abs(scaled) >= 1024 and index < len(BINARY_PREFIXES) - 1:
            scaled /= 1024
            index += 1
        suffix = "/s" if unit == "bytes/s" else ""
        return f"{scaled:.3g} {BINARY_PREFIXES[index]}B{suffix}"
    return f"{value:.4g}"


def binary_power(vmin: float, vmax: float) -> int:
    """字节轴用的二进制前缀（1024 的幂次）：由轴上绝对值最大的一端决定，一个轴只用一个前缀。"""
    largest = max(abs(vmin), abs(vmax), 1.0)
    return min(int(np.log(largest) / np.log(1024)), len(BINARY_PREFIXES) - 1)


def decimals(step: float) -> int:
    """把 step 写准需要的小数位数（20 → 0，2.5 → 1，0.05 → 2），最多 12 位。"""
    if not (np.isfinite(step) and step > 0):
        return 0
    for places in range(13):
        if abs(round(step, places) - step) <= step * 1e-6:
            return places
    return 12


def axis_scale(unit: str, vmin: float, vmax: float) -> tuple[float, str]:
    """一个轴上的数统一用的 (除数, 后缀)：字节为同一个二进制前缀，百分比为 %，很大或很小的普通数为 e 指数。"""
    if unit in ("bytes", "bytes/s"):
        power = binary_power(vmin, vmax)
        return 1024.0**power, f" {BINARY_PREFIXES[power]}B{'/s' if unit == 'bytes/s' else ''}"
    if unit == "percent":
        return 1.0, "%"
    largest = max(abs(vmin), abs(vmax))
    if largest >= 1e6 or 0 < largest < 1e-3:
        exponent = math.floor(math.log10(largest))
        return 10.0**exponent, f"e{exponent}"
    return 1.0, ""


def scaled_text(value: float, scale: float, suffix: str, places: int) -> str:
    """value / scale 保留 places 位小数，再加后缀；舍入为 0 时不写负号。"""
    if not np.isfinite(value):
        return ""
    number = round(value / scale, places)
    return f"{(number if number != 0 else 0.0):.{places}f}{suffix}"


def value_formatter(unit: str, vmin: float, vmax: float, step: float) -> Callable[[float], str]:
    """一个轴上最新值标注的格式：同一个前缀/后缀，小数位数比该轴的刻度间隔多一位（由轴的范围决定，不随数值变）。"""
    scale, suffix = axis_scale(unit, vmin, vmax)
    places = decimals(step / scale) + 1
    return lambda value: scaled_text(value, scale, suffix, places)


class UnitFormatter(Formatter):
    """百分比与字节轴的刻度标签：整个轴同一个前缀、同样的小数位数（0.5 MiB、1.0 MiB，而不是 512 KiB、1 MiB）。"""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.step = 0.0

    def set_locs(self, locs: Any) -> None:
        """记下刻度间隔（决定小数位数）。"""
        super().set_locs(locs)
        self.step = float(np.min(np.diff(locs))) if len(locs) > 1 else 0.0

    def __call__(self, x: float, pos: int | None = None) -> str:
        assert self.axis is not None  # 格式化器装到坐标轴上之后才会被调用
        scale, suffix = axis_scale(self.unit, *self.axis.get_view_interval())
        return scaled_text(x, scale, suffix, decimals(self.step / scale))


class BinaryLocator(Locator):
    """字节轴的刻度：落在 1024 的整数次幂的整倍数上（1 MiB、2 MiB……），而不是 1 000 000 的倍数。"""

    def __init__(self) -> None:
        self.inner = MaxNLocator(nbins="auto", steps=NICE_STEPS)

    def tick_values(self, vmin: float, vmax: float) -> np.ndarray:  # type: ignore[override]  # Matplotlib 自己也返回 ndarray
        """刻度位置。"""
        scale = 1024.0 ** binary_power(vmin, vmax)
        return np.asarray(self.inner.tick_values(vmin / scale, vmax / scale)) * scale

    def __call__(self) -> np.ndarray:  # type: ignore[override]
        assert self.axis is not None
        return self.tick_values(*self.axis.get_view_interval())


def rounding_locator(unit: str) -> Locator:
    """把自动 y 范围向外取整到刻度值用的定位器：字节轴取整到 1024 的幂次的整倍数，其余取整到“好看”的数。"""
    return BinaryLocator() if unit in ("bytes", "bytes/s") else MaxNLocator(nbins="auto", steps=NICE_STEPS)


def set_unit(ax: Axes, unit: str) -> None:
    """按单位设置一个 y 轴的刻度格式与刻度位置（plain 用 Matplotlib 的默认）。"""
    if unit != "plain":
        ax.yaxis.set_major_formatter(UnitFormatter(unit))
    if unit in ("bytes", "bytes/s"):
        ax.yaxis.set_major_locator(BinaryLocator())
