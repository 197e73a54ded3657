"""x 轴的时间刻度：日期按中文习惯书写，刻度个数按像素宽度定，最新点右侧（最新值标注的位置）不放刻度。

日期写成 2026-11-25、11-25、14:42、14:42:30，不出现 “Nov” 或只有秒数的 “30”（docs/pitfalls.md 第 39 条）。
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib.dates as mdates
import numpy as np

# x 轴至少显示的时长（天，Matplotlib 日期单位）：刚启动时新点从右侧长出，刻度也不会细到毫秒
MIN_SPAN = 60 / 86400
SECONDS_PER_DAY = 86400.0

# 日期刻度按中文习惯书写（ConciseDateFormatter 的三组格式，下标依次为 年、月、日、时、分、秒）：
# 秒级的每个刻度都写全 14:42:30（不会出现只有 “30”、与分钟混在一起的 “30 40 50 14:42 10”），
# 跨天处写 11-25，角上的日期写 2026-11-25（不写 2026-Nov-25）
DATE_FORMATS = ["%Y", "%Y-%m", "%m-%d", "%H:%M", "%H:%M", "%H:%M:%S.%f"]
DATE_ZERO_FORMATS = ["%Y", "%Y-%m", "%m-%d", "%m-%d", "%H:%M", "%H:%M:%S"]
DATE_OFFSET_FORMATS = ["", "", "%Y", "%Y-%m-%d", "%Y-%m-%d", "%Y-%m-%d"]
# 每种刻度频率下最宽的标签（估算刻度个数用；数字等宽，用 0 代表）
TICK_SAMPLES = {
    mdates.YEARLY: ("0000",),
    mdates.MONTHLY: ("0000-00",),
    mdates.DAILY: ("00-00",),
    mdates.HOURLY: ("00:00", "00-00"),
    mdates.MINUTELY: ("00:00",),
    mdates.SECONDLY: ("00:00:00",),
    mdates.MICROSECONDLY: ("00:00:00.0",),
}
# AutoDateLocator 的间隔表补上“下一级的一个单位”：刻度很少（窄图）时也总能选到间隔，
# 否则它会发出 “unable to pick an appropriate interval” 警告
EXTRA_INTERVALS = {mdates.SECONDLY: 60, mdates.MINUTELY: 60, mdates.HOURLY: 24, mdates.MONTHLY: 12}


class NewestDateLocator(mdates.AutoDateLocator):
    """AutoDateLocator，但不在 limit 右侧放刻度：最新点右侧是最新值标注的位置，那里没有时间可标。"""

    def __init__(self) -> None:
        super().__init__(minticks=3, maxticks=8)
        for freq, extra in EXTRA_INTERVALS.items():
            self.intervald[freq] = [*self.intervald[freq], extra]
        # 1 与 5 之间补上 2：宽图上不至于从每分钟一个刻度直接跳到每 5 分钟一个
        for freq in (mdates.SECONDLY, mdates.MINUTELY):
            self.intervald[freq] = sorted({*self.intervald[freq], 2})
        self.limit = np.inf

    def __call__(self) -> Any:
        ticks = np.asarray(super().__call__())
        return ticks[ticks <= self.limit + 1e-9]

    def set_density(self, room: float, spacing: float, width: Callable[[str], float], extra: int) -> None:
        """每种刻度频率最多几个刻度：相邻刻度至少相隔一个标签宽度（width 量出的像素）加 spacing（窄图上刻度更少）。

        room 为坐标轴的像素宽度；extra 为多允许的刻度个数（最新值标注占去右侧一段时为 1）。"""
        counts = []
        for freq, samples in TICK_SAMPLES.items():
            label = max(width(sample) for sample in samples)
            # 最新值标注占去右侧一段（定位器看的是整个 x 范围）：多允许 extra 个刻度，数据部分不至于只剩一个
            self.maxticks[freq] = max(4, int(room // (label + spacing)) + 1) + extra
            counts.append(self.maxticks[freq])
        most = min(counts)
        # 至少几个刻度才用某个频率：窄图上两个就够（否则会退到更细的频率、挤出更多刻度），宽图上要多些。
        # 不超过 most // 2，加上 EXTRA_INTERVALS，AutoDateLocator 总能选到间隔
        self.minticks = min(max(most // 2, 2), 5)


def date_formatter(locator: NewestDateLocator) -> mdates.ConciseDateFormatter:
    """按中文习惯书写日期的简洁格式（滚动窗口从几秒到几天都不重叠，docs/pitfalls.md 第 17 条）。"""
    return mdates.ConciseDateFormatter(
        locator, formats=DATE_FORMATS, zero_formats=DATE_ZERO_FORMATS, offset_formats=DATE_OFFSET_FORMATS
    )
