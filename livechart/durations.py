"""给人看的时长：日志与状态消息里写“5 分钟”“2 小时 10 分钟”，而不是“300 秒”“7800 秒”。

用在说给人听的时长上（失败持续了多久、丢弃的行比时钟晚了多少、调用卡了多久）；配置错误里引用的设置值
（LIVECHART_FUTURE_MARGIN=300、数据源的 timeout）照原样写，不经过这里。本模块是纯文本处理。
"""

from __future__ import annotations

# (单位的秒数, 单位名)，从大到小
UNITS = ((86400, "天"), (3600, "小时"), (60, "分钟"), (1, "秒"))


def spoken(seconds: float) -> str:
    """时长 → 最多两级单位的中文，如 0.5 秒、45 秒、5 分钟、5 分钟 30 秒、2 小时 10 分钟、3 天 4 小时（按较小的单位四舍五入）。"""
    if seconds < 59.95:
        return f"{max(0.0, round(seconds, 1)):g} 秒"
    total = round(seconds)
    index = next(i for i, (size, _) in enumerate(UNITS) if total >= size)
    (size, name), (smaller, smaller_name) = UNITS[index], UNITS[index + 1]
    rounded = round(total / smaller) * smaller
    if index and rounded >= UNITS[index - 1][0]:
        return spoken(rounded)  # 进位到了更大的单位：86399 秒是 1 天，不是 24 小时
    major, minor = divmod(rounded // smaller, size // smaller)
    return f"{major} {name}" + (f" {minor} {smaller_name}" if minor else "")
