"""多进程、多主机共用一个 Redis 时的协调（docs/pitfalls.md 第 4、5、25 条；README 的“多个进程”一节）。

APScheduler 3 不能在进程间共享任务存储，所以每个进程都有自己的调度器和同样的任务，另外：

1. 每个图表有一个所有者：只有它取数、渲染（Redis 里的租约，每个节拍续约，约两个间隔过期）。所有进程的间隔任务
   都从同一个起点（EPOCH）开始、在同一时刻触发；触发时一个 Lua 脚本原子地续约或接手租约、再认领这个节拍
   （每个节拍只渲染一次）。所有者被 kill -9 或卡住（上一次取数还没返回时不续约）后租约过期，
   别的进程在两个间隔内接手。所有权分散在活着的进程之间：每个进程最多拥有 ⌈图表数 / 活着的进程数⌉ 个，
   多出来的在渲染后交出去；没人接手的空闲租约过一个节拍后谁都可以接手。`system` 这类数据源因此一次只测一台主机，
   rendered_by 说明是哪一台。
2. 期望的任务状态（删除、暂停、间隔、名称等选项）与整个服务的状态（调度器暂停）存在 Redis 的哈希里：
   任何进程的 /scheduler API 只把修改写进去（change），再和别的进程一样由 reconcile 应用到本地调度器——
   每个修改只有这一条路径。每次修改序号加一并在命令频道上通知；每个进程收到通知、在读取状态的请求之前
   （sync）、以及每 LIVECHART_RECONCILE_SECONDS 秒比较一次序号，变了就重新对齐，重启后也从这里恢复。
   单进程时没有 Redis，change 直接把修改应用到本进程的调度器（apply，同一个函数）。
3. 配置文件改了就以它为准：运行时对文件所声明内容（间隔、任务是否存在、选项）的修改记下当时文件的样子（base）；
   启动时文件与 base 不同，说明文件后来改过这个任务，运行时的修改作废。暂停是运行时状态，一直保留。
4. 每张新图写入 Redis 后在频道上发布图表名；每个进程的跟随线程订阅它，立即把新记录读进
   本进程的副本（store.last_known）。订阅连着时（live）副本与 Redis 一致，图片请求直接用它；
   订阅断开时 live 清除，请求回到每次读 Redis 的路径（Redis 不可用时提供副本并标明可能过时）。

没有使用 Redis 缓存时（嵌入式 SimpleCache，单进程）这些都不需要，Coordinator 只把修改应用到本进程。
键名都在 livechart/keys.py。
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from typing import Any

import redis
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.schedulers.base import STATE_RUNNING
from flask import Flask
from flask import current_app
from flask_caching.backends.rediscache import RedisCache

from livechart import keys
from livechart import store
from livechart import variants
from livechart.extensions import cache
from livechart.extensions import scheduler
from livechart.jobspec import JOB_OPTIONS
from livechart.jobspec import job_interval
from livechart.spec import JOB_FUNC
from livechart.spec import ConfigError
from livechart.spec import job_id_for

log = logging.getLogger("livechart")

EXTENSION = "livechart.coordination"
# 所有进程的间隔任务共同的起点：触发时刻对齐到它的整数倍间隔
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
# 期望状态中由配置文件声明的字段：运行时改过它们时记下当时文件的样子（base），文件再改时以文件为准
FILE_FIELDS = ("seconds", "removed", *JOB_OPTIONS)
# 心跳这么久没更新的进程算作不在了（心跳每 LIVECHART_RECONCILE_SECONDS 秒一次；至少是它的 4 倍）
MEMBER_SECONDS = 3.0
# 交出一个图表之后，这么多秒内不再因为超出份额交出它（活着的进程数一时算多了也不会来回交接）
REBALANCE_QUIET = 30.0

# 续约或接手租约、再认领这个节拍。KEYS：租约、这个节拍、上一个节拍。
# ARGV：本进程、租约毫秒、节拍键毫秒、可以接手空闲租约（'1'：本进程拥有的图表少于份额）。
# 结果：renewed / taken（可以渲染）、held（别的进程拥有）、wait（空闲但本进程已到份额，上一个节拍有人渲染过）、
# done（本进程拥有，但这个节拍已经渲染过）
# #!lua：满了的 Redis 整个拒绝（docs/pitfalls.md 第 30 条）
CLAIM = """#!lua
local holder = redis.call('GET', KEYS[1])
local how
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  how = 'renewed'
elseif holder then
  return {'held', holder}
elseif ARGV[4] == '1' or redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  how = 'taken'
else
  return {'wait', ''}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[3]) then
  return {how, ''}
end
return {'done', ''}
"""
# 自己的租约：ARGV[2] 为 0 时删除（交出），否则改成这么多毫秒后过期（间隔变了）。只删除或改过期时间，满了的 Redis 也允许
LEASE = """#!lua flags=allow-oom
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
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


def owner() -> str:
    """本进程的标识“主机名:pid”（写进图片记录，状态接口里可以看到是谁渲染的）。
    每次调用时取 pid：gunicorn 的主进程导入本模块后才 fork 出工作进程。"""
    return f"{socket.gethostname()}:{os.getpid()}"


def tick_of(now: float, interval: float) -> int:
    """当前时刻属于第几个节拍（从 EPOCH 起，按间隔计）。

    取最近的节拍（四舍五入）而不是向下取整：调度器总在节拍时刻之后一点点触发，
    主机之间的时钟也可能差几毫秒；差半个间隔以内都算同一个节拍。
    """
    return math.floor((now - EPOCH.timestamp()) / interval + 0.5)


def lease_ms(interval: float) -> int:
    """租约的有效期：比两个间隔少四分之一个间隔（最多少 0.5 秒）。

    所有者在节拍 T 续约；它死了之后，节拍 T+1 时租约还在（这个节拍跳过），节拍 T+2 时一定已经过期，
    别的进程接手——kill -9 之后两个间隔内交接，最多跳过两个节拍。
    """
    return max(100, int(1000 * (2 * interval - min(0.25 * interval, 0.5))))


def _json(value: Any) -> Any:
    """经过一次 JSON 往返的值（与 Redis 里读回的比较）。"""
    return json.loads(json.dumps(value))


class Coordinator:
    """一个 app 的协调器；client 为 None 时（单进程）所有操作都是空操作或总是成功。"""

    def __init__(self, client: redis.Redis | None, prefix: str, declared: dict[str, dict[str, Any]], charts: int) -> None:
        self.client = client
        self.prefix = prefix
        # 配置文件声明的任务：图表名 → {seconds, 选项}
        self.declared = declared
        self.charts = charts
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        # 订阅连着、本进程的图片副本与 Redis 一致时置位
        self.live = threading.Event()
        # 把期望状态应用到本地调度器的操作（API 请求与对齐线程）互斥：每次都基于最新的任务
        self.lock = threading.RLock()
        # 认领节拍（数份额、接手）互斥
        self.claiming = threading.Lock()
        self.reconciling = False
        # 租约上的标识：主机名:pid 加一个随机数（pid 被重用时也不会认错）
        self.me = f"{owner()}:{secrets.token_hex(3)}"
        # 写共享窗口时用来检查所有权的标识（单进程为空：不检查）
        self.lease_id = self.me if client is not None else ""
        # 本进程拥有的图表 → 租约到期的时刻（monotonic）
        self.owned: dict[str, float] = {}
        self.alive = 1
        self.joined = False
        # 已经应用过的期望状态序号
        self.applied: int | None = None
        self.claim_script = client.register_script(CLAIM) if client is not None else None
        self.lease_script = client.register_script(LEASE) if client is not None else None
        self.heartbeat_script = client.register_script(HEARTBEAT) if client is not None else None
        # 心跳的过期秒数（至少是对齐周期的 4 倍）
        self.member_seconds = MEMBER_SECONDS
        # 因为超出份额而交出的图表 → 交出的时刻（monotonic）
        self.released: dict[str, float] = {}
        # 命令频道上“请所有者立即重绘”的处理（jobs 模块注册）
        self.on_run: Callable[[str], None] | None = None
        # 对齐线程每一轮补写等待中的窗口行（jobs 模块注册）
        self.on_flush: Callable[[], None] | None = None
        # 跟随线程每 PUBLISH_DEMAND_SECONDS 秒调用一次：把本进程收到的变体需求写进 Redis（livechart/demand.py）
        self.on_publish: Callable[[], None] | None = None
        self.app: Flask | None = None

    @property
    def enabled(self) -> bool:
        """是否在多进程模式下（有 Redis）。"""
        return self.client is not None

    def key(self, name: str) -> str:
        """直接用 Redis 客户端时的完整键名。"""
        return keys.raw(self.prefix, name)

    # ------------------------------------------------------------ 所有权

    def owns(self, chart: str) -> bool:
        """本进程是否拥有这个图表（租约还没到期）；单进程时总是。"""
        return self.client is None or self.owned.get(chart, 0.0) > time.monotonic()

    def _count(self, without: str) -> int:
        """本进程拥有（租约未到期）的图表数，不算 without。owned 会被别的任务线程改动：先复制再数。"""
        now = time.monotonic()
        return sum(1 for chart, until in list(self.owned.items()) if until > now and chart != without)

    def share(self) -> int:
        """本进程最多拥有几个图表：⌈图表数 / 活着的进程数⌉。"""
        return max(1, math.ceil(self.charts / max(1, self.alive)))

    def claim(self, chart: str, interval: float) -> str:
        """节拍触发时：续约或接手这个图表、再认领这个节拍。返回 CLAIM 的结果（renewed、taken 可以渲染）。
        单进程时总是 renewed。Redis 不可用时抛 store.Unavailable。"""
        if self.claim_script is None:
            return "renewed"
        if self.stop.is_set():
            return "stopping"  # 进程正在退出：不再续约或接手
        # 数份额、认领、记下所有权是一步：几个图表的任务线程同时触发时，不会都看到“还没到份额”而一起接手
        with self.claiming:
            return self._claim(chart, interval)

    def _claim(self, chart: str, interval: float) -> str:
        tick = tick_of(time.time(), interval)
        lease = lease_ms(interval)
        may_take = "1" if self._count(chart) < self.share() else "0"
        keys_ = [
            self.key(keys.lease(chart)),
            self.key(keys.tick(chart, interval, tick)),
            self.key(keys.tick(chart, interval, tick - 1)),
        ]
        args = [self.me, lease, max(1000, int(interval * 2000)), may_take]
        # write=False：续约不写入新数据，成功了也不说明满了的 Redis 又能写入了
        how, holder = store.guarded(self.claim_script, keys=keys_, args=args)
        how = how.decode()
        if how in ("renewed", "taken", "done"):
            if chart not in self.owned or self.owned[chart] <= time.monotonic():
                log.info("本进程（%s）接手图表 %s", owner(), chart)
            self.owned[chart] = time.monotonic() + lease / 1000
        elif self.owned.pop(chart, 0.0) > time.monotonic():
            log.info("图表 %s 交给了 %s", chart, holder.decode() if holder else "别的进程")
        return how

    def take(self, chart: str, interval: float) -> bool:
        """请求里（POST …/run）：图表没有所有者时由本进程接手。"""
        if self.client is None:
            return True
        lease = lease_ms(interval)
        if store.guarded(self.client.set, self.key(keys.lease(chart)), self.me, nx=True, px=lease, write=True):
            log.info("本进程（%s）接手没有所有者的图表 %s", owner(), chart)
            self.owned[chart] = time.monotonic() + lease / 1000
            return True
        return False

    def holder(self, chart: str) -> str | None:
        """图表现在的所有者（租约上的标识）；没有时为 None。"""
        if self.client is None:
            return self.me
        value = store.guarded(self.client.get, self.key(keys.lease(chart)))
        return value.decode() if value else None

    def release(self, chart: str) -> None:
        """交出这个图表（只删自己的租约）。"""
        self.owned.pop(chart, None)
        if self.lease_script is not None:
            store.guarded(self.lease_script, keys=[self.key(keys.lease(chart))], args=[self.me, 0])

    def reexpire(self, chart: str, interval: float) -> None:
        """间隔变了：本进程拥有的租约按新的间隔过期（否则一天的间隔改成一分钟后，卡住的所有者还要两天才交出）。"""
        if self.lease_script is None or not self.owns(chart):
            return
        lease = lease_ms(interval)
        with contextlib.suppress(store.Unavailable):
            store.guarded(self.lease_script, keys=[self.key(keys.lease(chart))], args=[self.me, lease])
            self.owned[chart] = time.monotonic() + lease / 1000

    def rebalance(self, chart: str) -> None:
        """渲染之后：本进程拥有的图表多于份额时交出这一个，下一个节拍由份额没满的进程接手。
        最近交出过的图表不再交出：活着的进程数一时算多了，图表也不会在进程之间来回交接。"""
        if self.client is None or self._count("") <= self.share():
            return
        if time.monotonic() - self.released.get(chart, -REBALANCE_QUIET) < REBALANCE_QUIET:
            return
        try:
            self.release(chart)
        except store.Unavailable:
            return
        self.released[chart] = time.monotonic()
        log.info("本进程拥有的图表多于份额（%d 个进程，每个最多 %d 个）：交出图表 %s", self.alive, self.share(), chart)

    def ask_to_run(self, chart: str) -> None:
        """请所有者立即重绘这个图表（命令频道）。"""
        if self.client is not None:
            store.guarded(self.client.publish, self.key(keys.commands_channel()), f"run {chart}")

    # ------------------------------------------------------------ 成员与心跳

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
                    f"Redis {version}: livechart needs Redis 7 or newer (its Lua scripts declare flags; docs/pitfalls.md 30)"
                )
            self.heartbeat(rendering)
            declared = self.key(keys.declared())
            store.guarded(self.client.hset, declared, self.me, json.dumps(self.declared, sort_keys=True), write=True)
            found = store.guarded(self.client.hgetall, declared)
            others = {m.decode(): json.loads(v) for m, v in found.items() if m.decode() != self.me}
        except store.Unavailable:
            log.warning("启动时 Redis 不可用：等它恢复后再加入（所有权、期望状态）")
            return
        self.joined = True
        mine = _json(self.declared)
        for member, theirs in others.items():
            difference = describe_difference(mine, theirs)
            if difference:
                log.warning("进程 %s 的配置文件与本进程的不同：%s。所有进程应当使用同一份 config.py", member, difference)

    def leave(self) -> None:
        """进程正常退出：交出拥有的图表（别的进程下一个节拍接手），退出成员。"""
        if self.client is None or self.app is None:
            return
        try:
            with self.app.app_context():
                for chart in list(self.owned):
                    self.release(chart)
            pipe = self.client.pipeline(transaction=False)
            pipe.zrem(self.key(keys.members()), self.me)
            pipe.hdel(self.key(keys.declared()), self.me)
            pipe.execute()
        except (redis.RedisError, store.Unavailable):
            pass  # 租约与心跳会自己过期

    # ------------------------------------------------------------ 期望状态

    def announce(self, chart: str) -> None:
        """通知所有进程：这个图表有了新图（写入缓存之后调用）。"""
        if self.client is not None:
            store.guarded(self.client.publish, self.key(keys.images_channel()), chart)

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

    def redeclare(self, declared: dict[str, dict[str, Any]]) -> None:
        """配置文件重新载入了：换上它声明的任务（份额按新的图表数计算），也记进 Redis（发现彼此不一致的配置用）。"""
        self.declared, self.charts = _json(declared), len(declared)
        if self.client is not None:
            with contextlib.suppress(store.Unavailable):
                store.guarded(self.client.hset, self.key(keys.declared()), self.me, json.dumps(self.declared, sort_keys=True),
                              write=True)  # fmt: skip

    def still_declared_elsewhere(self, chart: str) -> bool:
        """还有别的进程的配置声明着这个图表（它们还没重新载入，或者配置不同）。"""
        if self.client is None:
            return False
        found = store.guarded(self.client.hgetall, self.key(keys.declared()))
        return any(member.decode() != self.me and chart in json.loads(value) for member, value in found.items())

    def forget_chart(self, chart: str) -> None:
        """图表从配置里删掉了：交出租约，删掉它的期望状态（同名的图表再加回来时从头开始）。"""
        self.owned.pop(chart, None)
        self.released.pop(chart, None)
        if self.client is not None:
            with contextlib.suppress(store.Unavailable):
                self.release(chart)
            client = self.client
            pattern = keys.glob_escape(self.prefix) + keys.ticks(chart)
            ticks = store.guarded(lambda: list(client.scan_iter(match=pattern, count=1000)))
            store.guarded(client.delete, self.key(keys.job(chart)), self.key(keys.demand(chart)), *ticks, write=True)


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


def _decode(value: bytes) -> Any:
    """期望状态的一个值（JSON）。"""
    try:
        return json.loads(value)
    except ValueError:
        return value.decode()


def get(app: Flask | None = None) -> Coordinator:
    """当前 app 的协调器。"""
    return (app or current_app).extensions[EXTENSION]


def aligned(job: dict[str, Any]) -> dict[str, Any]:
    """给间隔任务加上共同的起点（已有 start_date 的不动）。"""
    return job if "start_date" in job else {**job, "start_date": EPOCH}


def job_defaults(app: Flask, chart: str) -> dict[str, Any]:
    """任务选项的默认值（配置没有声明时）：名称是任务 id，其余取 SCHEDULER_JOB_DEFAULTS（没有时取 APScheduler 的默认）。"""
    defaults = app.config.get("SCHEDULER_JOB_DEFAULTS") or {}
    return {"name": job_id_for(chart), "misfire_grace_time": defaults.get("misfire_grace_time", 1),
            "coalesce": defaults.get("coalesce", True)}  # fmt: skip


def is_paused(job: Any) -> bool:
    """任务是否被暂停（调度器启动前的待定任务暂停后 next_run_time 为 None，未暂停时还没有这个属性）。"""
    return getattr(job, "next_run_time", True) is None


def apply(app: Flask, chart: str, want: dict[str, Any]) -> None:
    """把一个图表的期望状态应用到本进程的调度器。

    键：removed（删除任务）、paused、seconds（间隔）、name / misfire_grace_time / coalesce。
    任务不存在且未删除时补回。多进程模式下间隔任务对齐到 EPOCH。
    """
    coordinator = get(app)
    job_id = job_id_for(chart)
    # 多进程模式下 want 是 Redis 里的整条记录：没有的字段取配置文件的值；单进程时 want 是一次修改：没有的字段保持现状
    declared = (coordinator.declared.get(chart) or {}) if coordinator.enabled else {}
    with coordinator.lock:
        if chart not in app.extensions["livechart"]:
            return  # 重新载入配置刚删掉了这个图表：不再给它建任务
        job = scheduler.get_job(job_id)
        if want.get("removed"):
            if job is not None:
                scheduler.remove_job(job_id)
            return
        start = {"start_date": EPOCH} if coordinator.enabled else {}
        seconds = float(
            want.get("seconds") or declared.get("seconds") or job_interval(job) or app.extensions["livechart"][chart].interval
        )
        if coordinator.enabled:
            # Redis 里的记录加上文件的声明就是任务的全部：两处都没有的选项取默认值（作废的运行时修改不会留下来）
            options = {**job_defaults(app, chart), **declared, **{k: want[k] for k in JOB_OPTIONS if k in want}}
        else:
            options = {key: want[key] for key in JOB_OPTIONS if key in want}
        options = {key: options[key] for key in JOB_OPTIONS if key in options}
        paused = bool(want["paused"]) if "paused" in want else None
        if job is None:
            # Flask-APScheduler 的 add_job：名称默认为任务 id，与配置的任务一致
            scheduler.add_job(id=job_id, func=JOB_FUNC, kwargs={"chart": chart}, trigger="interval", seconds=seconds,
                              **start, **options)  # fmt: skip
            job = scheduler.get_job(job_id)
        else:
            if paused is None:
                paused = is_paused(job)
            if job_interval(job) != seconds or (coordinator.enabled and job.trigger.start_date != EPOCH):
                # reschedule_job 会重新计算下次运行时间（即恢复暂停的任务）：下面按 paused 再暂停
                scheduler.scheduler.reschedule_job(job_id, trigger="interval", seconds=seconds, **start)
                coordinator.reexpire(chart, seconds)
            # 调度器启动之前的待定任务还没有取默认值的选项（没有这个属性）
            changed = {key: value for key, value in options.items() if getattr(job, key, None) != value}
            if changed:
                scheduler.scheduler.modify_job(job_id, **changed)
            job = scheduler.get_job(job_id)
        if paused and not is_paused(job):
            scheduler.pause_job(job_id)
        elif paused is False and is_paused(job):
            scheduler.resume_job(job_id)


def held_back(app: Flask) -> set[str]:
    """多进程模式下在运行时被暂停或删除的图表（整个服务暂停时是全部）：重启后不预热它们。"""
    coordinator = get(app)
    if not coordinator.enabled:
        return set()
    names = set(app.extensions["livechart"])
    try:
        if coordinator.service_paused():
            return names
    except store.Unavailable:
        return set()
    return {name for name in names if (job := scheduler.get_job(job_id_for(name))) is None or is_paused(job)}


def apply_service(paused: bool | None) -> None:
    """把整个服务的调度器状态应用到本进程（没有启动的调度器不动）。"""
    if paused is None:
        return
    if paused and scheduler.state == STATE_RUNNING:
        scheduler.pause()
        log.info("调度器已暂停（整个服务）")
    elif not paused and scheduler.state == STATE_PAUSED:
        scheduler.resume()
        log.info("调度器已恢复（整个服务）")


class UnknownChart(KeyError):
    """修改的图表已经不在配置里（重新载入配置刚删掉了它）。"""


def change(app: Flask, chart: str, want: dict[str, Any], *, replace: bool = False) -> None:
    """/scheduler API 对一个图表任务的修改：唯一的路径。

    多进程模式：先写进 Redis（写不进去时抛 store.Unavailable，什么都没改），再和别的进程一样从 Redis 应用到本进程；
    别的进程收到通知立即跟上，读取状态的请求之前也会先对齐（sync）。单进程：直接应用到本进程的调度器。
    """
    coordinator = get(app)
    # 在协调器的锁里检查并修改：重新载入配置换图表时也持有这把锁，删掉的图表不会再被记下或建出任务
    with coordinator.lock:
        if chart not in app.extensions["livechart"]:
            raise UnknownChart(chart)
        if not coordinator.enabled:
            apply(app, chart, want)
            return
        coordinator.record(chart, want, replace=replace)
        try:
            sync(app)
        except store.Unavailable:
            apply(app, chart, want)  # 已经记下了，只是读不回来：照所记的应用（Redis 恢复后对齐读到的也是它）


def change_service(app: Flask, paused: bool) -> None:
    """/scheduler/pause 与 /scheduler/resume：多进程模式下作用于整个服务（记进 Redis，所有进程应用）。"""
    coordinator = get(app)
    if not coordinator.enabled:
        apply_service(paused)
        return
    coordinator.record_service(paused)
    try:
        sync(app)
    except store.Unavailable:
        apply_service(paused)


def reconcile(app: Flask, charts: list[str] | None = None) -> None:
    """把 Redis 中的期望状态应用到本地调度器（默认全部图表与整个服务）。"""
    coordinator = get(app)
    names = list(app.extensions["livechart"]) if charts is None else charts
    with coordinator.lock:
        for chart, want in coordinator.desired(names).items():
            apply(app, chart, want)
        if charts is None and coordinator.enabled:
            apply_service(coordinator.service_paused())


def sync(app: Flask) -> None:
    """期望状态的序号变了（别的进程改过）就重新对齐。Redis 不可用时抛 store.Unavailable。"""
    coordinator = get(app)
    if not coordinator.enabled:
        return
    seq = coordinator.desired_seq()
    if seq != coordinator.applied:
        with coordinator.lock:
            reconcile(app)
            coordinator.applied = seq


def sync_quietly(app: Flask) -> None:
    """读取状态的请求之前对齐；Redis 不可用时照本进程现有的状态回答（store 记录可用性）。"""
    with contextlib.suppress(store.Unavailable):  # store 已记录 Redis 的状态
        sync(app)


def settle_precedence(app: Flask, charts: list[str] | None = None) -> None:
    """启动时与重新载入配置时：配置文件在运行时的修改之后改过的任务，以文件为准（删掉运行时的修改，保留暂停），
    每个写一行日志。charts：只看这些图表（默认全部）。"""
    coordinator = get(app)
    names = list(app.extensions["livechart"]) if charts is None else charts
    for chart, want in coordinator.desired(names).items():
        runtime = {key: want[key] for key in FILE_FIELDS if key in want}
        if not runtime or want.get("base") == _json(coordinator.declared.get(chart)):
            continue
        if coordinator.forget_runtime(chart):
            log.warning(
                "配置文件改过图表 %s 的任务（运行时修改时是 %s，现在是 %s）：以配置文件为准，作废 %s 的运行时修改 %s",
                chart, want.get("base"), coordinator.declared.get(chart), _when(want.get("changed_at")), runtime,
            )  # fmt: skip


def _when(stamp: Any) -> str:
    """epoch 秒 → 本地时间的文字（给日志用）。"""
    if not isinstance(stamp, int | float):
        return "未知时间"
    return datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="seconds")


def origin(app: Flask, chart: str) -> str:
    """任务的间隔从哪里来（启动日志用）：配置文件，或某时的运行时修改。"""
    coordinator = get(app)
    try:
        want = coordinator.desired_one(chart)
    except store.Unavailable:
        return "来源未知：Redis 不可用"
    if "seconds" in want:
        return f"运行时修改于 {_when(want.get('changed_at'))}"
    return "配置文件"


def _loop(app: Flask, coordinator: Coordinator, period: float) -> None:
    """对齐线程：心跳、补写等待中的窗口行、期望状态变了就对齐；Redis 不可用时跳过这一轮（恢复后自动继续）。"""
    while not coordinator.stop.wait(period):
        try:
            with app.app_context():
                rendering = scheduler.state == STATE_RUNNING
                coordinator.heartbeat(rendering)
                if not coordinator.joined:
                    coordinator.join(rendering)
                if coordinator.on_flush is not None:
                    coordinator.on_flush()
                if scheduler.running:
                    sync(app)
        except (redis.RedisError, store.Unavailable):
            pass  # 由 store 记录 Redis 的可用性变化（只在状态改变时写日志）
        except Exception:
            log.exception("对齐任务状态失败")


# 跟随线程每秒 PING 一次；这么久没有 PONG 就当作断开（Redis 卡住而不是关闭连接时）
PONG_TIMEOUT = 3.0
# 跟随线程把变体需求写进 Redis 的周期（秒）：每个进程都有跟随线程，不运行任务的 web 进程也有
PUBLISH_DEMAND_SECONDS = 0.5


def _follow(app: Flask, coordinator: Coordinator) -> None:
    """跟随线程：订阅新图通知与命令，把新记录读进本进程的副本；断开后重连并追上错过的图与修改。"""
    assert coordinator.client is not None
    images, commands = coordinator.key(keys.images_channel()), coordinator.key(keys.commands_channel())
    while not coordinator.stop.is_set():
        pubsub = coordinator.client.pubsub()
        retry = 0.2
        try:
            pubsub.subscribe(images, commands)
            with app.app_context():
                for chart in list(app.extensions["livechart"]):  # 订阅之后再读：之后发布的新图一个也不会漏
                    store.load_image(chart)
                if scheduler.running:
                    sync(app)  # 断开期间错过的修改
            coordinator.live.set()
            last_pong = next_ping = next_publish = time.monotonic()
            while not coordinator.stop.is_set():
                now = time.monotonic()
                if now >= next_ping:
                    pubsub.ping()
                    next_ping = now + 1
                if now - last_pong > PONG_TIMEOUT:
                    raise redis.ConnectionError("no PONG from Redis")
                if now >= next_publish and coordinator.on_publish is not None:
                    coordinator.on_publish()
                    next_publish = now + PUBLISH_DEMAND_SECONDS
                message = pubsub.get_message(timeout=0.2)
                if message is None:
                    continue
                if message["type"] == "pong":
                    last_pong = time.monotonic()
                elif message["type"] == "message" and message["channel"].decode() == images:
                    image = message["data"].decode()  # 图片标识：图表名，或变体的（livechart/variants.py）
                    if variants.chart_of(image) in app.extensions["livechart"]:  # 还没重新载入配置的进程可能发布已经删掉的图表
                        with app.app_context():
                            store.load_image(image)
                elif message["type"] == "message":
                    with app.app_context():
                        _command(app, coordinator, message["data"].decode())
        except (redis.RedisError, store.Unavailable):
            store.report(False)
        except Exception:
            log.exception("跟随新图通知失败")
            retry = 1
        finally:
            # 先清除 live（请求立刻回到读 Redis 的路径），再等一会儿重连
            coordinator.live.clear()
            pubsub.close()
        coordinator.stop.wait(retry)


def _command(app: Flask, coordinator: Coordinator, command: str) -> None:
    """命令频道上的一条命令：sync（期望状态变了）、run <图表>（请所有者立即重绘）。"""
    verb, _, chart = command.partition(" ")
    if verb == "sync" and scheduler.running:
        sync(app)
    elif verb == "run" and coordinator.owns(chart) and coordinator.on_run is not None:
        coordinator.on_run(chart)


def redis_client(app: Flask) -> redis.Redis | None:
    """缓存后端自己的 Redis 客户端（RedisCache、RedisSentinelCache 的主节点、RedisClusterCache）；
    其他后端为 None。复用它而不是另建连接：地址、密码、哨兵、集群、超时都只在 CACHE_* 里配置一次。"""
    backend = app.extensions["cache"][cache]
    return backend._write_client if isinstance(backend, RedisCache) else None


def declared_jobs(jobs: list[dict[str, Any]], intervals: dict[str, float]) -> dict[str, dict[str, Any]]:
    """配置文件声明的任务（已校验的 JOBS）：图表名 → {seconds, 声明了的选项}（与期望状态比较用）。"""
    declared = {}
    for job in jobs:
        chart = job["kwargs"]["chart"]
        declared[chart] = {"seconds": intervals[chart], **{key: job[key] for key in JOB_OPTIONS if key in job}}
    return _json(declared)


def init_app(app: Flask, intervals: dict[str, float]) -> None:
    """建立协调器；多进程模式（使用 Redis 缓存）下任务对齐起点。须在 cache.init_app 之后调用。"""
    prefix = app.config.get("CACHE_KEY_PREFIX") or ""
    coordinator = app.extensions[EXTENSION] = Coordinator(
        redis_client(app), prefix, declared_jobs(app.config["JOBS"], intervals), len(intervals)
    )
    coordinator.app = app  # 退出时（没有 app 上下文）交出图表要用
    coordinator.member_seconds = max(MEMBER_SECONDS, 4 * float(app.config["LIVECHART_RECONCILE_SECONDS"]))
    if coordinator.enabled:
        app.config["JOBS"] = [aligned(job) for job in app.config["JOBS"]]


def join(app: Flask) -> None:
    """渲染的进程在预热之前：加入（份额按活着的进程数计算），按配置文件的优先规则清理 Redis 中的期望状态，
    再对齐一次——重启后暂停的图表不会在预热时画一次。"""
    coordinator = get(app)
    if not coordinator.enabled:
        return
    with app.app_context():
        coordinator.join(rendering=app.config["LIVECHART_SCHEDULER"] == "running")
        try:
            settle_precedence(app)
            coordinator.applied = None
            sync(app)
        except store.Unavailable:
            log.warning("启动时 Redis 不可用：先按配置运行，Redis 恢复后再对齐任务状态")


def start(app: Flask) -> None:
    """多进程模式下启动跟随线程；调度器在运行时还启动对齐（见 start_reconciling）。"""
    coordinator = get(app)
    if not coordinator.enabled:
        return
    if scheduler.running:
        # 调度器刚启动：整个服务的暂停（启动前无从应用）现在应用
        with app.app_context(), contextlib.suppress(store.Unavailable):
            apply_service(coordinator.service_paused())
    follower = threading.Thread(target=_follow, args=(app, coordinator), name="livechart-follow", daemon=True)
    coordinator.threads.append(follower)
    follower.start()
    if scheduler.running:
        start_reconciling(app)


def start_reconciling(app: Flask) -> None:
    """多进程模式下调度器开始运行时：启动对齐线程（只启动一个）：心跳、补写、期望状态变了就对齐。"""
    coordinator = get(app)
    if not coordinator.enabled or coordinator.reconciling:
        return
    coordinator.reconciling = True
    period = app.config["LIVECHART_RECONCILE_SECONDS"]
    reconciler = threading.Thread(target=_loop, args=(app, coordinator, period), name="livechart-reconcile", daemon=True)
    coordinator.threads.append(reconciler)
    reconciler.start()


def stop(app: Flask) -> None:
    """停止对齐与跟随线程，交出拥有的图表（测试拆除、进程退出）。"""
    coordinator = app.extensions.get(EXTENSION)
    if coordinator is not None:
        coordinator.stop.set()
        for thread in coordinator.threads:
            thread.join(timeout=2)  # 对齐线程最多在一次 Redis 超时（1 秒）之后看到 stop
        coordinator.leave()
