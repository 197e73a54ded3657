"""缓存与 Redis 中所有键的名字：唯一知道键名与布局版本的模块。

键名都带布局版本（LAYOUT）：布局改变时版本加一，滚动升级期间新旧版本的进程各用各的键，
谁也不会把另一个版本的记录读错（docs/upgrading.md）。

经 Flask-Caching 读写的键（图片、版本号、错误记录）由它加上 CACHE_KEY_PREFIX；直接用 Redis 客户端读写的键
（滚动窗口、租约、成员、期望状态）由调用方用 raw() 加上同一个前缀。同一个图表的键都带 Redis 的哈希标签
{图表名}：在 Redis Cluster 中它们落在同一个槽里，一个 Lua 脚本可以同时操作它们。
"""

from __future__ import annotations

import re

# Redis 布局的版本：v1 是 0.x 的布局（chart:<名>:history 存整个 DataFrame、每个节拍一个认领键）
LAYOUT = "v2"
# 上一个布局的滚动窗口键（经 Flask-Caching，值是 pickle 的 DataFrame）：升级后只读一次，导入新布局
LEGACY_HISTORY = "chart:{chart}:history"


def raw(prefix: str, key: str) -> str:
    """直接用 Redis 客户端时的完整键名（加上 CACHE_KEY_PREFIX）。"""
    return f"{prefix}{key}"


# ---------------------------------------------------------------- 经 Flask-Caching 的键


def image(chart: str) -> str:
    """图表图片记录（PNG 与元数据）。chart 也可以是变体的图片标识（如 cpu.dark@2x，livechart/variants.py）。"""
    return f"{LAYOUT}:image:{{{chart}}}"


def version(chart: str) -> str:
    """图表版本计数器（原子递增）。"""
    return f"{LAYOUT}:version:{{{chart}}}"


def failure(chart: str) -> str:
    """图表最近一次错误。"""
    return f"{LAYOUT}:error:{{{chart}}}"


def legacy_history(chart: str) -> str:
    """上一个布局（v1）的滚动窗口。"""
    return LEGACY_HISTORY.format(chart=chart)


# ---------------------------------------------------------------- 直接用 Redis 客户端的键


def window(chart: str) -> str:
    """滚动窗口：有序集合，分数是时刻（秒），成员是一行的 JSON。"""
    return f"{LAYOUT}:window:{{{chart}}}"


def window_meta(chart: str) -> str:
    """滚动窗口的元数据（哈希）：列名与写入序号。"""
    return f"{LAYOUT}:window-meta:{{{chart}}}"


def lease(chart: str) -> str:
    """图表的所有者租约：值是所有者的标识，过期时间约两个间隔。"""
    return f"{LAYOUT}:lease:{{{chart}}}"


def tick(chart: str, interval: float, number: int) -> str:
    """图表某个节拍的认领记录：每个节拍只渲染一次。"""
    return f"{LAYOUT}:tick:{{{chart}}}:{interval:g}:{number}"


def glob_escape(text: str) -> str:
    """SCAN 的匹配模式里按原样匹配这段文字（CACHE_KEY_PREFIX 可能含 * ? [ ] \\）。"""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def ticks(chart: str) -> str:
    """图表全部节拍认领记录的匹配模式（SCAN 用，前面加上 glob_escape 过的前缀；删掉图表时清理）。"""
    return f"{LAYOUT}:tick:{glob_escape('{' + chart + '}')}:*"


def demand(chart: str) -> str:
    """图表各个变体最后一次被要的时刻（哈希：变体后缀 → epoch 秒；livechart/demand.py）。"""
    return f"{LAYOUT}:demand:{{{chart}}}"


def job(chart: str) -> str:
    """图表任务的期望状态（哈希，值为 JSON）。"""
    return f"{LAYOUT}:job:{{{chart}}}"


def service() -> str:
    """整个服务的期望状态（哈希）：调度器是否暂停。"""
    return f"{LAYOUT}:service"


def desired_seq() -> str:
    """期望状态的修改序号：每次修改加一，进程据此知道要不要重新对齐。"""
    return f"{LAYOUT}:desired-seq"


def members() -> str:
    """活着的进程（有序集合，分数是最近一次心跳的时刻）。"""
    return f"{LAYOUT}:members"


def declared() -> str:
    """每个进程的配置文件声明的任务（哈希：进程标识 → JSON），用来发现彼此不一致的 config.py。"""
    return f"{LAYOUT}:declared"


def images_channel() -> str:
    """新图通知的频道（消息是图表名）。"""
    return f"{LAYOUT}:images"


def commands_channel() -> str:
    """给所有进程的命令频道：期望状态变了（重新对齐），请所有者立即重绘某个图表。"""
    return f"{LAYOUT}:commands"
