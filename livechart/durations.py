"""给人看的时长：日志与状态消息里写“5 分钟”“2 小时 10 分钟”，而不是“300 秒”“7800 秒”。

设置的值（以秒为单位的 LIVECHART_* 设置、数据源的 timeout）照原样写秒数，不经过这里。本模块是纯文本处理。
"""

from __future__ import annotations

# (单位的秒数, 单位名)，从大到小
UNITS = ((86400, "天"), (3600, "小时"), (60, "分钟"), (1, "秒"))


def spoken(seconds: float) -> str:
    """时长 → 最多两级单位的中文，如 45 秒、5 分钟、5 分钟 30 秒、2 小时 10 分钟、3 天 4 小时（按较小的单位四舍五入）。"""
    total = max(0, round(seconds))
    for index, (size, name) in enumerate(UNITS[:-1]):
        if total >= size:
            smaller, smaller_name = UNITS[index + 1]
            rounded = round(total / smaller) * smaller
            if index and rounded >= UNITS[index - 1][0]:
                return spoken(rounded)  # 进位到了更大的单位：86399 秒是 1 天，不是 24 小时
            major, minor = divmod(rounded // smaller, size // smaller)
            return f"{major} {name}" + (f" {minor} {smaller_name}" if minor else "")
    return f"{total} 秒"
