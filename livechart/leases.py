"""图表的所有权：Redis 里的租约与节拍（docs/pitfalls.md 第 4、25 条；总览见 livechart/coordination.py 第 1 点）。

每个图表有一个所有者：只有它取数、渲染。所有进程的间隔任务都从同一个起点（EPOCH）开始、在同一时刻触发；
触发时一个 Lua 脚本原子地续约或接手租约、再认领这个节拍（每个节拍只渲染一次）。所有者死了或卡住（不续约）后
租约过期，别的进程在两个间隔内接手。每个进程最多拥有 ⌈图表数 / 活着的进程数⌉ 个（份额，livechart/membership.py），
多出来的在渲染后交出去。
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from datetime import UTC
from datetime import datetime
from typing import Any

import redis

from livechart import keys
from livechart import store
from livechart.membership import Membership
from livechart.peer import owner
from livechart.peer import text

log = logging.getLogger("livechart")

# 所有进程的间隔任务共同的起点：触发时刻对齐到它的整数倍间隔，节拍从它数起
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
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


class Leases(Membership):
    """本进程拥有哪些图表：认领节拍、接手、交出、按份额再平衡（份额来自 Membership）。"""

    def __init__(self, client: redis.Redis | None, prefix: str, declared: dict[str, dict[str, Any]]) -> None:
        super().__init__(client, prefix, declared)
        # 写共享窗口时用来检查所有权的标识（单进程为空：不检查）
        self.lease_id = self.me if client is not None else ""
        # 本进程拥有的图表 → 租约到期的时刻（monotonic）
        self.owned: dict[str, float] = {}
        # 因为超出份额而交出的图表 → 交出的时刻（monotonic）
        self.released: dict[str, float] = {}
        # 认领节拍、接手与退出时交出全部互斥：数份额、认领、记下所有权是一步；交出全部之后不会再认领或接手
        self.claiming = threading.Lock()
        self.claim_script = client.register_script(CLAIM) if client is not None else None
        self.lease_script = client.register_script(LEASE) if client is not None else None

    def owns(self, chart: str) -> bool:
        """本进程是否拥有这个图表（租约还没到期）；单进程时总是。"""
        return self.client is None or self.owned.get(chart, 0.0) > time.monotonic()

    def _count(self, without: str) -> int:
        """本进程拥有（租约未到期）的图表数，不算 without。owned 会被别的任务线程改动：先复制再数。"""
        now = time.monotonic()
        return sum(1 for chart, until in list(self.owned.items()) if until > now and chart != without)

    def claim(self, chart: str, interval: float) -> str:
        """节拍触发时：续约或接手这个图表、再认领这个节拍。返回 CLAIM 的结果（renewed、taken 可以渲染）。
        单进程时总是 renewed。Redis 不可用时抛 store.Unavailable。"""
        if self.claim_script is None:
            return "renewed"
        # 数份额、认领、记下所有权是一步：几个图表的任务线程同时触发时，不会都看到“还没到份额”而一起接手
        with self.claiming:
            if self.stop.is_set():
                return "stopping"  # 进程正在退出：不再续约或接手
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
        assert self.claim_script is not None  # enabled 时 init_app 注册了脚本
        how, holder = store.guarded(self.claim_script, keys=keys_, args=args)
        how = text(how)
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
        with self.claiming:
            if self.stop.is_set():
                return False  # 进程正在退出：接手了也没人续约，别的进程要等租约过期
            if not store.guarded(self.client.set, self.key(keys.lease(chart)), self.me, nx=True, px=lease, write=True):
                return False
            log.info("本进程（%s）接手没有所有者的图表 %s", owner(), chart)
            self.owned[chart] = time.monotonic() + lease / 1000
            return True

    def holder(self, chart: str) -> str | None:
        """图表现在的所有者（租约上的标识）；没有时为 None。"""
        if self.client is None:
            return self.me
        value = store.guarded(self.client.get, self.key(keys.lease(chart)))
        return text(value) if value else None

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

    def leave(self) -> None:
        """进程正常退出：交出拥有的图表（别的进程下一个节拍接手），再退出成员。须在 app 上下文里、stop 已置位：
        持有认领的锁，正在认领的任务线程认领完才交出，之后的认领与接手都不会再发生。"""
        with self.claiming:
            for chart in list(self.owned):
                self.release(chart)
        super().leave()
