"""时间单位：APScheduler 间隔参数的名字与秒数（唯一列出它们的地方），以及给人看的时长（“5 分钟”，而不是“300 秒”）。

本模块是纯代码，不导入 Flask。
"""

from __future__ import annotations

# 间隔参数（APScheduler 的 weeks、days…）→ (秒数, 中文单位)，从大到小
UNITS = {
    "weeks": (604800, "周"),
    "days": (86400, "天"),
    "hours": (3600, "小时"),
    "minutes": (60, "分钟"),
    "seconds": (1, "秒"),
}  # fmt: skip


def duration(seconds: float) -> str:
    """给人看的时长：换成能整除的最大单位，数值不变（15 位有效数字，不像 :g 那样只留 6 位）。

    86400 → “1 天”，300 → “5 分钟”，90 → “90 秒”，0.5 → “0.5 秒”。
    """
    for size, name in UNITS.values():
        if seconds and seconds % size == 0:
            return f"{seconds / size:.15g} {name}"
    return f"{seconds:.15g} 秒"
