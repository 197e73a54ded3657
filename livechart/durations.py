"""时间单位：APScheduler 间隔参数的名字与秒数（唯一列出它们的地方），以及给人看的时长（“5 分钟”，而不是“300 秒”）。

两种时长：duration_text 照实写设置的值（间隔、期限：“1 分 30 秒”，不丢精度）；spoken 写量出来的时长
（失败持续了多久、调用卡了多久：最多两级单位，四舍五入，“2 小时 10 分钟”）。页面上的时长由 static/livechart.js
的 duration() 按 duration_text 的写法生成。本模块是纯代码，不导入 Flask。
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
# 给人看的时长分到这几级（不用周：“14 天”比“2 周”更常见于间隔与期限）
_SPOKEN = (("天", 86400), ("小时", 3600), ("分", 60), ("秒", 1))


def duration_text(seconds: float) -> str:
    """秒数 → 中文读者习惯的时长：“5 分钟”“1 小时”“2 天”“1 分 30 秒”“1 小时 30 分钟”“1 小时 1 分 1 秒”。
    一分钟以内、或不是整秒时照写秒数（“2 秒”“0.5 秒”“90.5 秒”），不丢精度。"""
    if seconds < 60 or seconds != int(seconds):
        return f"{seconds:.15g} 秒"
    rest, parts = int(seconds), []
    for name, size in _SPOKEN:
        if rest >= size:
            parts.append(f"{rest // size} {name}")
            rest %= size
    # 分在最后时写“分钟”（“5 分钟”“1 小时 30 分钟”），后面还有秒时写“分”（“1 分 30 秒”）
    if parts[-1].endswith(" 分"):
        parts[-1] += "钟"
    return " ".join(parts)


# spoken 的单位：(秒数, 单位名)，从大到小
_ROUNDED = ((86400, "天"), (3600, "小时"), (60, "分钟"), (1, "秒"))


def spoken(seconds: float) -> str:
    """时长 → 最多两级单位的中文，如 0.5 秒、45 秒、5 分钟、5 分钟 30 秒、2 小时 10 分钟、3 天 4 小时（按较小的单位四舍五入）。"""
    if seconds < 59.95:
        return f"{max(0.0, round(seconds, 1)):g} 秒"
    total = round(seconds)
    index = next(i for i, (size, _) in enumerate(_ROUNDED) if total >= size)
    (size, name), (smaller, smaller_name) = _ROUNDED[index], _ROUNDED[index + 1]
    rounded = round(total / smaller) * smaller
    if index and rounded >= _ROUNDED[index - 1][0]:
        return spoken(rounded)  # 进位到了更大的单位：86399 秒是 1 天，不是 24 小时
    major, minor = divmod(rounded // smaller, size // smaller)
    return f"{major} {name}" + (f" {minor} {smaller_name}" if minor else "")
