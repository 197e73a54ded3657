"""期望的任务状态：存在 Redis 里、所有进程共用的任务修改与整个服务的暂停（总览见 livechart/coordination.py 第 2、3 点）。

/scheduler API 的修改只写进这里（record），再由每个进程的对齐（livechart/alignment.py）应用到本地调度器。
每次修改序号加一并在命令频道上通知。运行时改了配置文件所声明的字段时记下当时文件的样子（base）：
文件后来改过这个任务，运行时的修改就作废（forget_runtime）。本模块只读写 Redis，不碰调度器。
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from livechart import keys
from livechart import store
from livechart.jobspec import JOB_OPTIONS
from livechart.peer import Peer
from livechart.peer import text

# 期望状态中由配置文件声明的字段：运行时改过它们时记下当时文件的样子（base），文件再改时以文件为准
FILE_FIELDS = ("seconds", "removed", *JOB_OPTIONS)


class DesiredState(Peer):
    """Redis 中的期望状态：每个图表一个哈希（keys.job），整个服务一个（keys.service），一个修改序号。"""

    def record(self, chart: str, want: dict[str, Any], *, replace: bool = False) -> None:
        """记录期望的任务状态（来自 /scheduler API 的修改；值以 JSON 保存），序号加一并通知所有进程。

        改了配置文件声明的字段时同时记下当时文件的样子（base）与时间（changed_at）：文件之后再改这个任务时以文件为准。
        replace：先清掉旧记录（新增任务）。"""
        if self.client is None:
            return
        if any(field in want for field in FILE_FIELDS):
            want = {**want, "base": self.declared.get(chart), "changed_at": time.time()}
        # transaction=False：期望状态与修改计数在不同的槽里（Redis Cluster 不允许跨槽的事务）；先记录、再计数
        pipe = self.client.pipeline(transaction=False)
        if replace:
            pipe.delete(self.key(keys.job(chart)))
        pipe.hset(self.key(keys.job(chart)), mapping={key: json.dumps(value) for key, value in want.items()})
        self._bump(pipe)
        store.guarded(pipe.execute, write=True)

    def record_service(self, paused: bool) -> None:
        """记录整个服务的调度器是否暂停。"""
        assert self.client is not None
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.key(keys.service()), "paused", json.dumps(paused))
        self._bump(pipe)
        store.guarded(pipe.execute, write=True)

    def _bump(self, pipe: Any) -> None:
        pipe.incr(self.key(keys.desired_seq()))
        pipe.publish(self.key(keys.commands_channel()), "sync")

    def desired_seq(self) -> int:
        """期望状态现在的序号。"""
        assert self.client is not None
        return int(store.guarded(self.client.get, self.key(keys.desired_seq())) or 0)

    def desired_one(self, chart: str) -> dict[str, Any]:
        """一个图表在 Redis 中的期望状态（没有记录时为空字典）。"""
        return self.desired([chart]).get(chart, {})

    def desired(self, charts: list[str]) -> dict[str, dict[str, Any]]:
        """每个图表在 Redis 中的期望状态（没有记录的图表不出现）。"""
        if self.client is None:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for chart in charts:
            pipe.hgetall(self.key(keys.job(chart)))
        result = {}
        for chart, values in zip(charts, store.guarded(pipe.execute), strict=True):
            if values:
                result[chart] = {k.decode(): _decode(v) for k, v in values.items()}
        return result

    def service_paused(self) -> bool | None:
        """整个服务的调度器是否暂停（没有记录时为 None：按配置）。"""
        assert self.client is not None
        value = store.guarded(self.client.hget, self.key(keys.service()), "paused")
        return None if value is None else bool(_decode(value))

    def forget_runtime(self, chart: str) -> bool:
        """删掉运行时对配置文件所声明字段的修改（保留暂停）；真的删掉了什么才加序号、通知，返回 True。
        几个进程同时重新载入同一份配置时，只有第一个删掉（并写日志）。"""
        assert self.client is not None
        fields = [*FILE_FIELDS, "base", "changed_at"]
        removed = store.guarded(self.client.hdel, self.key(keys.job(chart)), *fields, write=True)
        if removed:
            pipe = self.client.pipeline(transaction=False)
            self._bump(pipe)
            store.guarded(pipe.execute, write=True)
        return bool(removed)


def _decode(value: bytes | str) -> Any:
    """期望状态的一个值（JSON）。"""
    try:
        return json.loads(value)
    except ValueError:
        return text(value)


def changed_when(stamp: Any) -> str:
    """期望状态里记下的修改时间（changed_at，epoch 秒）→ 本地时间的文字（给日志用）。"""
    if not isinstance(stamp, int | float):
        return "未知时间"
    return datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="seconds")
