"""给人看的时长：“5 分钟”“1 小时 30 分”“2 秒”，而不是“300 秒”（日志、启动行、错误消息用同一种写法）。"""

from __future__ import annotations

UNITS = (("天", 86400), ("小时", 3600), ("分", 60), ("秒", 1))


def duration_text(seconds: float) -> str:
    """秒数 → 中文读者习惯的时长：“5 分钟”“1 小时”“2 天”“1 分 30 秒”“1 小时 1 分 1 秒”。
    一分钟以内、或不是整秒时照写秒数（“2 秒”“0.5 秒”“90.5 秒”），不丢精度。"""
    if seconds < 60 or seconds != int(seconds):
        return f"{seconds:g} 秒"
    rest, parts = int(seconds), []
    for name, size in UNITS:
        if rest >= size:
            parts.append(f"{rest // size} {name}")
            rest %= size
    # 只有分的时长写“5 分钟”；和别的单位一起时写“1 小时 30 分”
    return parts[0] + "钟" if len(parts) == 1 and parts[0].endswith(" 分") else " ".join(parts)
