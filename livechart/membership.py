"""活着的进程：心跳、份额与各进程声明的任务（总览见 livechart/coordination.py 第 1 点）。

每个渲染的进程每 LIVECHART_RECONCILE_SECONDS 秒心跳一次（时间取自 Redis：各主机的时钟可能不一致），
活着的进程数决定每个进程最多拥有几个图表（份额，livechart/leases.py）。加入时记下本进程配置文件声明的任务，
与别的进程的比较，不一致时警告一次。
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from typing import Any

import redis

from livechart import keys
from livechart import store
from livechart.peer import Peer
from livechart.peer import as_json
from livechart.peer import text
from livechart.spec import ConfigError

log = logging.getLogger("livechart")

# 心跳这么久没更新的进程算作不在了（心跳每 LIVECHART_RECONCILE_SECONDS 秒一次；至少是它的 4 倍）
MEMBER_SECONDS = 3.0

# 心跳：用 Redis 的时钟（各主机的时钟可能差几秒），记下本进程、清掉过期的成员、数活着的进程。
# KEYS：成员、各进程声明的任务。ARGV：本进程、过期秒数、本进程是否在渲染（'1'）
HEARTBEAT = """#!lua
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t - 2 * tonumber(ARGV[2]))
for _, member in ipairs(gone) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], member)
end
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], t, ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return redis.call('ZCOUNT', KEYS[1], t - tonumber(ARGV[2]), '+inf')
"""


class Membership(Peer):
    """本进程作为成员：心跳、活着的进程数与份额、加入与退出、声明的任务。"""

    def __init__(self, client: redis.Redis | None, prefix: str, declared: dict[str, dict[str, Any]]) -> None:
        super().__init__(client, prefix, declared)
        self.alive = 1
        self.joined = False
        # 心跳的过期秒数（至少是对齐周期的 4 倍，coordination.init_app 设定）
        self.member_seconds = MEMBER_SECONDS
        self.heartbeat_script = client.register_script(HEARTBEAT) if client is not None else None

    def share(self) -> int:
        """本进程最多拥有几个图表：⌈图表数 / 活着的进程数⌉。"""
        return max(1, math.ceil(len(self.declared) / max(1, self.alive)))

    def heartbeat(self, rendering: bool = True) -> None:
        """记下本进程还活着（rendering 为 False 时——调度器暂停或没有启动——不算在分担图表的进程里），
        清掉过期的成员，数一数活着的进程。时间取自 Redis：各主机的时钟可能不一致。"""
        assert self.heartbeat_script is not None
        members, declared = self.key(keys.members()), self.key(keys.declared())
        args = [self.me, self.member_seconds, "1" if rendering else "0"]
        self.alive = max(1, int(store.guarded(self.heartbeat_script, keys=[members, declared], args=args)))

    def join(self, rendering: bool = True) -> None:
        """加入：检查 Redis 的版本，心跳一次，记下本进程配置文件声明的任务，与别的进程的比较，不一致时警告一次。"""
        if self.client is None:
            return
        try:
            version = str(store.guarded(self.client.info, "server").get("redis_version", "7"))
            if int(version.split(".")[0]) < 7:
                raise ConfigError(
                    f"Redis {version}：livechart 需要 Redis 7 或更新的版本（它的 Lua 脚本声明了 flags，docs/pitfalls.md 第 30 条）"
                )
            self.heartbeat(rendering)
            declared = self.key(keys.declared())
            store.guarded(self.client.hset, declared, self.me, json.dumps(self.declared, sort_keys=True), write=True)
            found = store.guarded(self.client.hgetall, declared)
            others = {text(m): json.loads(v) for m, v in found.items() if text(m) != self.me}
        except store.Unavailable:
            log.warning("启动时 Redis 不可用：等它恢复后再加入（所有权、期望状态）")
            return
        self.joined = True
        mine = as_json(self.declared)
        for member, theirs in others.items():
            difference = describe_difference(mine, theirs)
            if difference:
                log.warning("进程 %s 的配置文件与本进程的不同：%s。所有进程应当使用同一份 config.py", member, difference)

    def leave(self) -> None:
        """退出成员（进程正常退出时）；Redis 的错误由调用方处理（心跳会自己过期）。"""
        assert self.client is not None
        pipe = self.client.pipeline(transaction=False)
        pipe.zrem(self.key(keys.members()), self.me)
        pipe.hdel(self.key(keys.declared()), self.me)
        pipe.execute()

    def redeclare(self, declared: dict[str, dict[str, Any]]) -> None:
        """配置文件重新载入了：换上它声明的任务（份额按新的图表数计算），也记进 Redis（发现彼此不一致的配置用）。"""
        self.declared = as_json(declared)
        if self.client is not None:
            with contextlib.suppress(store.Unavailable):
                store.guarded(self.client.hset, self.key(keys.declared()), self.me, json.dumps(self.declared, sort_keys=True),
                              write=True)  # fmt: skip

    def still_declared_elsewhere(self, chart: str) -> bool:
        """还有别的进程的配置声明着这个图表（它们还没重新载入，或者配置不同）。"""
        if self.client is None:
            return False
        found = store.guarded(self.client.hgetall, self.key(keys.declared()))
        return any(text(member) != self.me and chart in json.loads(value) for member, value in found.items())


def describe_difference(mine: dict[str, Any], theirs: dict[str, Any]) -> str:
    """两份配置文件声明的任务有什么不同（给日志用）；相同时为空字符串。"""
    parts = []
    for chart in sorted(set(mine) | set(theirs)):
        here, there = mine.get(chart), theirs.get(chart)
        if here == there:
            continue
        if there is None:
            parts.append(f"图表 {chart} 的任务只在本进程")
        elif here is None:
            parts.append(f"图表 {chart} 的任务只在对方")
        else:
            changed = [f"{k} {here.get(k)!r}（本进程）/ {there.get(k)!r}（对方）" for k in sorted(set(here) | set(there))
                       if here.get(k) != there.get(k)]  # fmt: skip
            parts.append(f"图表 {chart}：{'，'.join(changed)}")
    return "；".join(parts)
