"""图表记录的存取：唯一知道缓存键与记录格式的模块。

每个图表一个键，保存一条记录：PNG 字节与其元数据一起写入，二者永不矛盾。
滚动窗口（历史数据）存在旁边的键里，受窗口大小限制。
记录永不过期（timeout=0）：暂停的任务继续提供最后一张图，陈旧程度只报告、不靠淘汰。
图表最近一次的错误另存一个键。
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import pandas as pd

from livechart.extensions import cache

# 永不过期（Flask-Caching 默认 300 秒后过期）
NEVER = 0


@dataclass(frozen=True)
class ChartImage:
    """一次渲染的结果：PNG 字节与元数据。"""

    png: bytes
    version: int
    etag: str
    rendered_at: float
    render_ms: float
    width: int
    height: int

    @property
    def nbytes(self) -> int:
        """PNG 的字节数。"""
        return len(self.png)


@dataclass(frozen=True)
class ChartFailure:
    """图表最近一次失败：消息、时间与连续失败次数（成功后归零）。"""

    message: str
    at: float
    consecutive: int


def history_key(chart: str) -> str:
    """图表滚动窗口（历史数据）的缓存键。"""
    return f"chart:{chart}:history"


def image_key(chart: str) -> str:
    """图表图片记录的缓存键。"""
    return f"chart:{chart}:image"


def failure_key(chart: str) -> str:
    """图表最近错误的缓存键。"""
    return f"chart:{chart}:error"


def load_image(chart: str) -> ChartImage | None:
    """读取图表的当前记录；没有时返回 None。"""
    record = cache.get(image_key(chart))
    return record if isinstance(record, ChartImage) else None


def save_image(chart: str, png: bytes, render_ms: float, width: int, height: int) -> ChartImage:
    """写入新渲染的图片，版本号加一；调用方须持有该图表的重绘锁。"""
    previous = load_image(chart)
    record = ChartImage(
        png=png,
        version=(previous.version + 1) if previous else 1,
        # 按内容计算 ETag：进程重启后版本号会归零，内容哈希不会认错图
        etag=hashlib.blake2b(png, digest_size=16).hexdigest(),
        rendered_at=time.time(),
        render_ms=render_ms,
        width=width,
        height=height,
    )
    cache.set(image_key(chart), record, timeout=NEVER)
    return record


def load_history(chart: str) -> pd.DataFrame | None:
    """读取图表的滚动窗口；没有时返回 None。"""
    frame = cache.get(history_key(chart))
    return frame if isinstance(frame, pd.DataFrame) else None


def save_history(chart: str, frame: pd.DataFrame) -> None:
    """保存滚动窗口（已按窗口大小裁剪，所以有界）；使用 Redis 时进程重启后历史仍在。"""
    cache.set(history_key(chart), frame, timeout=NEVER)


def load_failure(chart: str) -> ChartFailure | None:
    """读取图表最近一次失败；没有时返回 None。"""
    record = cache.get(failure_key(chart))
    return record if isinstance(record, ChartFailure) else None


def record_failure(chart: str, message: str) -> ChartFailure:
    """记录一次失败，连续失败次数加一；最后一张好图保持不变。"""
    previous = load_failure(chart)
    failure = ChartFailure(message=message[:500], at=time.time(), consecutive=(previous.consecutive + 1) if previous else 1)
    cache.set(failure_key(chart), failure, timeout=NEVER)
    return failure


def mark_recovered(chart: str) -> None:
    """成功渲染后把连续失败次数归零；保留最后一次错误的消息和时间供排查。"""
    previous = load_failure(chart)
    if previous is not None and previous.consecutive:
        cache.set(failure_key(chart), ChartFailure(previous.message, previous.at, 0), timeout=NEVER)
