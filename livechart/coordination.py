"""多进程、多主机共用一个 Redis 时的协调（docs/pitfalls.md 第 4、5、25 条；README 的“多个进程”一节）。

APScheduler 3 不能在进程间共享任务存储，所以每个进程都有自己的调度器和同样的任务，另外：

1. 每个图表有一个所有者：只有它取数、渲染（Redis 里的租约，每个节拍续约，约两个间隔过期）。所有进程的间隔任务
   都从同一个起点（EPOCH）开始、在同一时刻触发；触发时一个 Lua 脚本原子地续约或接手租约、再认领这个节拍
   （每个节拍只渲染一次）。所有者被 kill -9 或卡住（上一次取数还没返回时不续约）后租约过期，
   别的进程在两个间隔内接手。所有权分散在活着的进程之间：每个进程最多拥有 ⌈图表数 / 活着的进程数⌉ 个，
   多出来的在渲染后交出去；没人接手的空闲租约过一个节拍后谁都可以接手。`system` 这类数据源因此一次只测一台主机，
   rendered_by 说明是哪一台。（livechart/leases.py；活着的进程：livechart/membership.py）
2. 期望的任务状态（删除、暂停、间隔、名称等选项）与整个服务的状态（调度器暂停）存在 Redis 的哈希里：
   任何进程的 /scheduler API 只把修改写进去（change），再和别的进程一样由 reconcile 应用到本地调度器——
   每个修改只有这一条路径。每次修改序号加一并在命令频道上通知；每个进程收到通知、在读取状态的请求之前
   （sync）、以及每 LIVECHART_RECONCILE_SECONDS 秒比较一次序号，变了就重新对齐，重启后也从这里恢复。
   单进程时没有 Redis，change 直接把修改应用到本进程的调度器（apply，同一个函数）。
   （Redis 里的状态：livechart/desired.py；应用到调度器：livechart/alignment.py）
3. 配置文件改了就以它为准：运行时对文件所声明内容（间隔、任务是否存在、选项）的修改记下当时文件的样子（base）；
   启动时文件与 base 不同，说明文件后来改过这个任务，运行时的修改作废。暂停是运行时状态，一直保留。
4. 每张新图写入 Redis 后在频道上发布图表名；每个进程的跟随线程订阅它，立即把新记录读进
   本进程的副本（store.last_known）。订阅连着时（live）副本与 Redis 一致，图片请求直接用它；
   订阅断开时 live 清除，请求回到每次读 Redis 的路径（Redis 不可用时提供副本并标明可能过时）。（livechart/follower.py）

没有使用 Redis 缓存时（嵌入式 SimpleCache，单进程）这些都不需要，Coordinator 只把修改应用到本进程。
本模块是入口：建立协调器（init_app）、加入（join）、启动与停止线程（start、stop），以及 /scheduler API 的修改（change）。
键名都在 livechart/keys.py。
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask
from flask import current_app
from flask_caching.backends.rediscache import RedisCache

from livechart import alignment
from livechart import follower
from livechart import keys
from livechart import store
from livechart.desired import DesiredState
from livechart.desired import changed_when
from livechart.extensions import cache
from livechart.extensions import scheduler
from livechart.jobspec import JOB_OPTIONS
from livechart.leases import Leases
from livechart.membership import MEMBER_SECONDS
from livechart.peer import as_json
from livechart.spec import job_id_for

log = logging.getLogger("livechart")

EXTENSION = "livechart.coordination"


class Coordinator(Leases, DesiredState):
    """一个 app 的协调器：所有权与成员（Leases、Membership）、期望状态（DesiredState），加上本 app 的线程、锁与回调。
    client 为 None 时（单进程）所有操作都是空操作或总是成功。"""

    def __init__(self, app: Flask, client: redis.Redis | None, prefix: str, declared: dict[str, dict[str, Any]]) -> None:
        super().__init__(client, prefix, declared)
        # 线程里（没有 app 上下文）对齐、跟随、退出时交出图表要用
        self.app = app
        self.threads: list[threading.Thread] = []
        # 订阅连着、本进程的图片副本与 Redis 一致时置位
        self.live = threading.Event()
        # 把期望状态应用到本地调度器的操作（API 请求与对齐线程）互斥：每次都基于最新的任务
        self.lock = threading.RLock()
        self.reconciling = False
        # 已经应用过的期望状态序号
        self.applied: int | None = None
        # 命令频道上“请所有者立即重绘”的处理（jobs 模块注册）
        self.on_run: Callable[[str], None] | None = None
        # 对齐线程每一轮补写等待中的窗口行（jobs 模块注册）
        self.on_flush: Callable[[], None] | None = None
        # 跟随线程每 PUBLISH_DEMAND_SECONDS 秒调用一次：把本进程收到的变体需求写进 Redis（livechart/demand.py）
        self.on_publish: Callable[[], None] | None = None

    def announce(self, chart: str) -> None:
        """通知所有进程：这个图表有了新图（写入缓存之后调用）。"""
        if self.client is not None:
            store.guarded(self.client.publish, self.key(keys.images_channel()), chart)

    def ask_to_run(self, chart: str) -> None:
        """请所有者立即重绘这个图表（命令频道）。"""
        if self.client is not None:
            store.guarded(self.client.publish, self.key(keys.commands_channel()), f"run {chart}")

    def leave(self) -> None:
        """进程正常退出：交出拥有的图表（别的进程下一个节拍接手），退出成员。"""
        if self.client is None:
            return
        try:
            with self.app.app_context():
                super().leave()
        except (redis.RedisError, store.Unavailable):
            pass  # 租约与心跳会自己过期

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


def get(app: Flask | None = None) -> Coordinator:
    """当前 app 的协调器。"""
    return (app or current_app).extensions[EXTENSION]


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
        if chart not in coordinator.declared:
            raise UnknownChart(chart)
        if not coordinator.enabled:
            alignment.apply(coordinator, chart, want)
            return
        coordinator.record(chart, want, replace=replace)
        try:
            alignment.sync(coordinator)
        except store.Unavailable:
            alignment.apply(coordinator, chart, want)  # 已经记下了，只是读不回来：照所记的应用（Redis 恢复后对齐读到的也是它）


def change_service(app: Flask, paused: bool) -> None:
    """/scheduler/pause 与 /scheduler/resume：多进程模式下作用于整个服务（记进 Redis，所有进程应用）。"""
    coordinator = get(app)
    if not coordinator.enabled:
        alignment.apply_service(paused)
        return
    coordinator.record_service(paused)
    try:
        alignment.sync(coordinator)
    except store.Unavailable:
        alignment.apply_service(paused)


def sync_quietly(app: Flask) -> None:
    """读取状态的请求之前对齐；Redis 不可用时照本进程现有的状态回答（store 记录可用性）。"""
    with contextlib.suppress(store.Unavailable):  # store 已记录 Redis 的状态
        alignment.sync(get(app))


def held_back(app: Flask) -> set[str]:
    """多进程模式下在运行时被暂停或删除的图表（整个服务暂停时是全部）：重启后不预热它们。"""
    coordinator = get(app)
    if not coordinator.enabled:
        return set()
    names = set(coordinator.chart_names())
    try:
        if coordinator.service_paused():
            return names
    except store.Unavailable:
        return set()
    return {name for name in names if (job := scheduler.get_job(job_id_for(name))) is None or alignment.is_paused(job)}


def origin(app: Flask, chart: str) -> str:
    """任务的间隔从哪里来（启动日志用）：配置文件，或某时的运行时修改。"""
    try:
        want = get(app).desired_one(chart)
    except store.Unavailable:
        return "来源未知：Redis 不可用"
    if "seconds" in want:
        return f"运行时修改于 {changed_when(want.get('changed_at'))}"
    return "配置文件"


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
    return as_json(declared)


def init_app(app: Flask, intervals: dict[str, float]) -> None:
    """建立协调器；多进程模式（使用 Redis 缓存）下任务对齐起点。须在 cache.init_app 之后调用。"""
    prefix = app.config.get("CACHE_KEY_PREFIX") or ""
    declared = declared_jobs(app.config["JOBS"], intervals)
    coordinator = app.extensions[EXTENSION] = Coordinator(app, redis_client(app), prefix, declared)
    coordinator.member_seconds = max(MEMBER_SECONDS, 4 * float(app.config["LIVECHART_RECONCILE_SECONDS"]))
    if coordinator.enabled:
        app.config["JOBS"] = [alignment.aligned(job) for job in app.config["JOBS"]]


def join(app: Flask) -> None:
    """渲染的进程在预热之前：加入（份额按活着的进程数计算），按配置文件的优先规则清理 Redis 中的期望状态，
    再对齐一次——重启后暂停的图表不会在预热时画一次。"""
    coordinator = get(app)
    if not coordinator.enabled:
        return
    with app.app_context():
        coordinator.join(rendering=app.config["LIVECHART_SCHEDULER"] == "running")
        try:
            alignment.settle_precedence(coordinator)
            coordinator.applied = None
            alignment.sync(coordinator)
        except store.Unavailable:
            log.warning("启动时 Redis 不可用：先按配置运行，Redis 恢复后再对齐任务状态")


def start(app: Flask) -> None:
    """多进程模式下启动跟随线程；调度器在运行时还启动对齐（见 _start_reconciling）。"""
    coordinator = get(app)
    if not coordinator.enabled:
        return
    if scheduler.running:
        # 调度器刚启动：整个服务的暂停（启动前无从应用）现在应用
        with app.app_context(), contextlib.suppress(store.Unavailable):
            alignment.apply_service(coordinator.service_paused())
    thread = threading.Thread(target=follower.follow, args=(coordinator,), name="livechart-follow", daemon=True)
    coordinator.threads.append(thread)
    thread.start()
    if scheduler.running:
        _start_reconciling(app)


def _start_reconciling(app: Flask) -> None:
    """多进程模式下调度器开始运行时：启动对齐线程（只启动一个）：心跳、补写、期望状态变了就对齐。"""
    coordinator = get(app)
    if not coordinator.enabled or coordinator.reconciling:
        return
    coordinator.reconciling = True
    period = app.config["LIVECHART_RECONCILE_SECONDS"]
    thread = threading.Thread(target=alignment.keep_aligned, args=(coordinator, period), name="livechart-reconcile", daemon=True)
    coordinator.threads.append(thread)
    thread.start()


def stop(app: Flask) -> None:
    """停止对齐与跟随线程，交出拥有的图表、退出成员（测试拆除、进程退出）。调用第二次什么也不做。"""
    coordinator = app.extensions.get(EXTENSION)
    if coordinator is not None and not coordinator.stop.is_set():
        coordinator.stop.set()
        for thread in coordinator.threads:
            thread.join(timeout=2)  # 对齐线程最多在一次 Redis 超时（1 秒）之后看到 stop
        coordinator.leave()
