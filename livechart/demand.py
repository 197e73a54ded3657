"""变体的需求：最近几分钟里谁要过哪个变体（livechart/variants.py）。

默认图总是按间隔重绘；别的变体（2×、暗色、窄版式）只在最近 DEMAND_SECONDS 秒里有人要过时，由图表的所有者
在每次重绘时接着画（同一份数据），没人看的变体不花 CPU。第一次要的那个请求是一次缓存未命中，在请求里画一次。

请求（包括在事件循环里回答的快速路径）只在本进程的字典里记一笔，不碰 Redis。多进程时对齐线程每
LIVECHART_RECONCILE_SECONDS 秒把新的需求写进 Redis（每个图表一个哈希：变体后缀 → 最后一次被要的时刻，
同一个变体最多每 PUBLISH_SECONDS 秒写一次），所有者重绘时读它：别的进程收到的请求也能让所有者重绘这个变体。
本模块不导入 Flask。
"""

from __future__ import annotations

import threading
import time
from typing import Any

from livechart import keys
from livechart import store
from livechart import variants
from livechart.variants import Variant

# 变体这么久没人要就不再在后台重绘（秒）
DEMAND_SECONDS = 300.0
# 同一个变体的需求最多这么久写一次 Redis（秒）；远小于 DEMAND_SECONDS
PUBLISH_SECONDS = 10.0


class Demand:
    """一个 app 的变体需求。"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (图表, 变体) → 本进程最后一次收到请求的时刻（epoch 秒）
        self.asked: dict[tuple[str, Variant], float] = {}
        # (图表, 变体) → 最后一次写进 Redis 的时刻
        self.published: dict[tuple[str, Variant], float] = {}

    def note(self, chart: str, variant: Variant) -> None:
        """有人要了这个变体（默认图不用记）。只写本进程的字典：快速路径在事件循环里调用。"""
        if not variant.default:
            self.asked[(chart, variant)] = time.time()

    def publish(self, client: Any, key: Any) -> None:
        """把本进程新的需求写进 Redis（对齐线程里）。key(图表) → 这个图表需求哈希的完整键名。"""
        now = time.time()
        with self._lock:
            due = [
                (entry, at) for entry, at in list(self.asked.items()) if at - self.published.get(entry, 0.0) >= PUBLISH_SECONDS
            ]
            if not due:
                return
            pipe = client.pipeline(transaction=False)
            for (chart, variant), at in due:
                name = key(keys.demand(chart))
                pipe.hset(name, variant.suffix, repr(at))
                pipe.expire(name, int(DEMAND_SECONDS) + 60)
            store.guarded(pipe.execute, write=True)
            for entry, _ in due:
                self.published[entry] = now

    def wanted(self, chart: str, shared: dict[Any, Any] | None = None) -> list[Variant]:
        """最近有人要过的变体（本进程的，加上 shared：从 Redis 读到的这个图表的需求哈希）。"""
        now = time.time()
        recent = {variant for (name, variant), at in list(self.asked.items()) if name == chart and now - at < DEMAND_SECONDS}
        for suffix, at in (shared or {}).items():
            parsed = variants.parse(f"{chart}{_text(suffix)}")
            if parsed is not None and now - float(at) < DEMAND_SECONDS and not parsed[1].default:
                recent.add(parsed[1])
        return sorted(recent, key=lambda variant: variant.suffix)

    def forget(self, chart: str) -> None:
        """图表从配置里删掉了：忘掉它的需求。"""
        with self._lock:
            for entry in [entry for entry in list(self.asked) if entry[0] == chart]:
                self.asked.pop(entry, None)
                self.published.pop(entry, None)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
