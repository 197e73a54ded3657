"""图表记录的存取：唯一知道图片与错误记录格式的模块（键名在 livechart/keys.py）。

每个图表一个键，保存一条记录：PNG 字节与其元数据一起写入，二者永不矛盾。
滚动窗口（历史数据）由 livechart/history.py 保存；键名都在 livechart/keys.py。
记录永不过期（timeout=0）：暂停的任务继续提供最后一张图，过期与否只报告、不靠淘汰。
图表最近一次的错误另存一个键。
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import TypeVar

from flask import Flask
from flask import current_app
from redis.exceptions import OutOfMemoryError
from redis.exceptions import RedisError

from livechart import keys
from livechart import variants
from livechart.extensions import cache

log = logging.getLogger("livechart")
T = TypeVar("T")
LAST_KNOWN = "livechart.last_known"

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
    # 渲染它的进程（主机名:pid）
    rendered_by: str = ""
    # 变体（livechart/variants.py）：画它时默认图的版本（同一份数据）；默认图为 0
    based_on: int = 0

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


class Unavailable(Exception):
    """缓存（Redis）不可用。Flask-Caching 在 Redis 断开时直接抛出 redis 的异常，
    即使设置了 CACHE_IGNORE_ERRORS（docs/pitfalls.md 第 8 条）：这里统一换成这个异常。"""


class Full(Unavailable):
    """缓存（Redis）满了（maxmemory 且 noeviction）：读照常，写被拒绝（OOM）。"""


# 满了的缓存后端（每个 app 一个后端；测试里一个进程有多个 app）
_full: weakref.WeakSet[Any] = weakref.WeakSet()


def is_full_error(exc: BaseException) -> bool:
    """这个 Redis 错误是不是“满了，拒绝写入”。"""
    # redis-py 把 "OOM command not allowed when used memory > 'maxmemory'" 映射成 OutOfMemoryError
    return isinstance(exc, OutOfMemoryError)


def report_full(full: bool) -> None:
    """记录当前 app 的缓存是否满了；只在状态改变时写一行日志（读照常成功，不能让它把“满了”冲掉）。"""
    backend = cache.cache
    if full == (backend in _full):
        return
    with _up_lock:
        if full == (backend in _full):
            return
        if full:
            _full.add(backend)
        else:
            _full.discard(backend)
    if full:
        log.warning("缓存（Redis）已满（maxmemory）：新图与任务修改都写不进去，图片路由提供最后一张图；请调大 maxmemory 或清理")
    else:
        log.warning("缓存（Redis）又可以写入了")


def report_error(exc: BaseException) -> None:
    """按错误的种类记录缓存状态：满了，或不可用。"""
    if is_full_error(exc):
        report_full(True)
    else:
        report(False)


def state() -> str:
    """缓存的状态：ok、unavailable（连不上或不回答）、full（满了，写被拒绝）。"""
    return "unavailable" if not _up else "full" if cache.cache in _full else "ok"


_up = True
_up_lock = threading.Lock()


def report(up: bool) -> None:
    """记录缓存是否可用；只在状态改变时写一行日志，而不是每个节拍都写。"""
    global _up
    if up == _up:  # 常见情况（状态没变）不取锁：每次缓存读写都会调用这里
        return
    with _up_lock:
        if up == _up:
            return
        _up = up
    if up:
        log.warning("缓存（Redis）已恢复")
    else:
        log.warning("缓存（Redis）不可用：图片路由提供各进程内存中的最后一张图，任务暂停渲染直到恢复")


# Redis 卡住（不回应而不是拒绝连接）时每次调用都要等满 socket_timeout。一次失败之后，这么多秒内的调用
# 不再碰 Redis、直接当作不可用，只放一个调用去试探：图片照常从内存提供，状态路由很快回答 503（docs/pitfalls.md 第 27 条）
PROBE_SECONDS = 1.0
# 每个缓存后端（每个 app）下一次可以试探 Redis 的时刻（monotonic）；没有记录表示可用
_probe_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def guarded(operation: Callable[..., T], *args: Any, write: bool = False, **kwargs: Any) -> T:
    """执行一次缓存操作，把 Redis 的错误换成 Unavailable（满了时是 Full）并记录状态变化；刚失败过时不等 Redis。"""
    backend = cache.cache
    if backend in _probe_at:
        with _up_lock:
            now = time.monotonic()
            if now < _probe_at.get(backend, 0.0):
                raise Unavailable
            _probe_at[backend] = now + PROBE_SECONDS  # 这个调用去试探，其余的继续直接失败
    try:
        result = operation(*args, **kwargs)
    except RedisError as exc:
        if is_full_error(exc):
            # Redis 在回答，只是拒绝写：不是“不可用”，读照常
            _probe_at.pop(backend, None)
            report(True)
            report_full(True)
            raise Full from None
        _probe_at[backend] = time.monotonic() + PROBE_SECONDS
        report(False)
        raise Unavailable from None
    _probe_at.pop(backend, None)
    report(True)
    if write:
        report_full(False)
    return result


def last_known(chart: str, app: Flask | None = None) -> ChartImage | None:
    """本进程见过的最后一张图（缓存不可用时提供它）；没有 app 上下文时（WSGI 快速路径）传入 app。"""
    return (app or current_app).extensions.setdefault(LAST_KNOWN, {}).get(chart)


def _remember(chart: str, record: ChartImage | None) -> ChartImage | None:
    if record is not None:
        current_app.extensions.setdefault(LAST_KNOWN, {})[chart] = record
    return record


def version_key(chart: str) -> str:
    """图表版本计数器的缓存键（原子递增：多个进程写同一个图表时版本号也不重复）。"""
    return keys.version(chart)


def image_key(chart: str) -> str:
    """图表图片记录的缓存键。"""
    return keys.image(chart)


def failure_key(chart: str) -> str:
    """图表最近错误的缓存键。"""
    return keys.failure(chart)


def current_version(chart: str) -> int:
    """图表当前的版本号（只读计数器，不读图片记录）。"""
    return int(guarded(cache.get, version_key(chart)) or 0)


def load_image(chart: str) -> ChartImage | None:
    """读取图表的当前记录；没有时返回 None。"""
    record = guarded(cache.get, image_key(chart))
    return _remember(chart, record if isinstance(record, ChartImage) else None)


def save_image(
    chart: str, png: bytes, render_ms: float, width: int, height: int, rendered_by: str = "", based_on: int = 0
) -> ChartImage:
    """写入新渲染的图片，版本号加一。chart 是图片标识：图表名，或变体的（livechart/variants.py）。"""
    # Flask-Caching 的 Cache 没有 inc；后端（cachelib / Redis 的 INCR）有，且是原子的。没有返回新值就是没写进去
    version = guarded(cache.cache.inc, version_key(chart), write=True)
    if version is None:
        raise Unavailable
    record = ChartImage(
        png=png,
        version=int(version),
        # 按内容计算 ETag：进程重启后版本号会归零，内容哈希不会认错图
        etag=hashlib.blake2b(png, digest_size=16).hexdigest(),
        rendered_at=time.time(),
        render_ms=render_ms,
        width=width,
        height=height,
        rendered_by=rendered_by,
        based_on=based_on,
    )
    guarded(cache.set, image_key(chart), record, timeout=NEVER, write=True)
    _remember(chart, record)
    return record


def load_failure(chart: str) -> ChartFailure | None:
    """读取图表最近一次失败；没有时返回 None。"""
    record = guarded(cache.get, failure_key(chart))
    return record if isinstance(record, ChartFailure) else None


def record_failure(chart: str, message: str) -> ChartFailure:
    """记录一次失败，连续失败次数加一；最后一张好图保持不变。"""
    previous = load_failure(chart)
    failure = ChartFailure(message=message[:500], at=time.time(), consecutive=(previous.consecutive + 1) if previous else 1)
    guarded(cache.set, failure_key(chart), failure, timeout=NEVER, write=True)
    return failure


def mark_recovered(chart: str) -> None:
    """成功渲染后把连续失败次数归零；保留最后一次错误的消息和时间供排查。"""
    previous = load_failure(chart)
    if previous is not None and previous.consecutive:
        guarded(cache.set, failure_key(chart), ChartFailure(previous.message, previous.at, 0), timeout=NEVER, write=True)


def forget_copy(chart: str) -> None:
    """删掉本进程里这个图表（连同它各个变体）最后一张图的副本。"""
    copies = current_app.extensions.setdefault(LAST_KNOWN, {})
    for variant in variants.every():
        copies.pop(variants.image_id(chart, variant), None)


def forget(chart: str) -> None:
    """图表从配置里删掉了：删除它的图片、版本号与错误记录（同名的图表再加回来时从版本 1 开始），以及本进程的副本。"""
    images = [variants.image_id(chart, variant) for variant in variants.every()]
    forget_copy(chart)
    # 连同各个变体的图片，和上一个布局（v1）的窗口：同名的图表再加回来时不会再导入它
    stored = [key for image in images for key in (image_key(image), version_key(image))]
    guarded(cache.delete_many, *stored, failure_key(chart), keys.legacy_history(chart), write=True)
