"""多进程、多主机共用一个 Redis 时的协调（docs/pitfalls.md 第 4、5 条）。

APScheduler 3 不能在进程间共享任务存储，所以每个进程都有自己的调度器和同样的任务，另外：

1. 每个节拍只有一个进程渲染：所有进程的间隔任务都从同一个起点（EPOCH）开始，于是在同一时刻触发；
   触发时用 SET NX PX 抢这个图表这个节拍的键，抢到的渲染，其余跳过。渲染的进程被 kill -9 后，
   下一个节拍由别的进程抢到——一个间隔内就交接了。
2. 期望的任务状态（删除、暂停、间隔、名称等选项）存在 Redis 的哈希里：任何进程的 /scheduler API
   只把修改写进去（change），再和别的进程一样由 reconcile 应用到本地调度器——每个修改只有这一条路径；
   每个进程的对齐线程每 LIVECHART_RECONCILE_SECONDS 秒读一次并应用，重启后也从这里恢复。
   单进程时没有 Redis，change 直接把修改应用到本进程的调度器（apply，同一个函数）。
3. 每张新图写入 Redis 后在频道 coord:images 上发布图表名；每个进程的跟随线程订阅它，立即把新记录读进
   本进程的副本（store.last_known）。订阅连着时（live）副本与 Redis 一致，图片请求直接用它，
   不必每次从 Redis 取几十 KB 再反序列化（bench/README.md 有测量）；订阅断开时 live 清除，
   请求回到每次读 Redis 的路径（Redis 不可用时提供副本并标明可能过时）。

没有使用 Redis 缓存时（嵌入式 SimpleCache，单进程）这些都不需要，Coordinator 什么也不做。
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import time
from datetime import UTC
from datetime import datetime
from typing import Any

import redis
from flask import Flask
from flask import current_app
from flask_caching.backends.rediscache import RedisCache

from livechart import store
from livechart.extensions import cache
from livechart.extensions import scheduler
from livechart.spec import JOB_FUNC
from livechart.spec import JOB_OPTIONS
from livechart.spec import job_id_for
from livechart.spec import job_interval

log = logging.getLogger("livechart")

EXTENSION = "livechart.coordination"
# 所有进程的间隔任务共同的起点：触发时刻对齐到它的整数倍间隔
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


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


class Coordinator:
    """一个 app 的协调器；client 为 None 时（单进程）所有操作都是空操作或总是成功。"""

    def __init__(self, client: redis.Redis | None, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        # 订阅连着、本进程的图片副本与 Redis 一致时置位
        self.live = threading.Event()
        self.channel = f"{prefix}images"
        # 把期望状态应用到本地调度器的操作（API 请求与对齐线程）互斥：每次都基于最新的任务
        self.lock = threading.RLock()
        self.reconciling = False

    @property
    def enabled(self) -> bool:
        """是否在多进程模式下（有 Redis）。"""
        return self.client is not None

    def claim(self, chart: str, interval: float) -> bool:
        """抢这个图表当前节拍的渲染权；只有一个进程会得到 True。Redis 不可用时抛出 redis 的异常。"""
        if self.client is None:
            return True
        key = f"{self.prefix}tick:{chart}:{interval:g}:{tick_of(time.time(), interval)}"
        # 键保留两个间隔：晚到的进程仍能看见这个节拍已被认领
        return bool(self.client.set(key, owner(), nx=True, px=max(1000, int(interval * 2000))))

    def announce(self, chart: str) -> None:
        """通知所有进程：这个图表有了新图（写入缓存之后调用）。"""
        if self.client is not None:
            self.client.publish(self.channel, chart)

    def _job_key(self, chart: str) -> str:
        return f"{self.prefix}job:{chart}"

    def record(self, chart: str, want: dict[str, Any], *, replace: bool = False) -> None:
        """记录期望的任务状态（来自 /scheduler API 的修改；值以 JSON 保存）。replace：先清掉旧记录（新增任务）。"""
        if self.client is None:
            return
        pipe = self.client.pipeline(transaction=True)
        if replace:
            pipe.delete(self._job_key(chart))
        pipe.hset(self._job_key(chart), mapping={key: json.dumps(value) for key, value in want.items()})
        pipe.execute()

    def desired_one(self, chart: str) -> dict[str, Any]:
        """一个图表在 Redis 中的期望状态（没有记录时为空字典）。"""
        return self.desired([chart]).get(chart, {})

    def desired(self, charts: list[str]) -> dict[str, dict[str, Any]]:
        """每个图表在 Redis 中的期望状态（没有记录的图表不出现）。"""
        if self.client is None:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for chart in charts:
            pipe.hgetall(self._job_key(chart))
        result = {}
        for chart, values in zip(charts, pipe.execute(), strict=True):
            if values:
                result[chart] = {k.decode(): _decode(v) for k, v in values.items()}
        return result


def _decode(value: bytes) -> Any:
    """期望状态的一个值：JSON（旧版本写的 "1"、"0"、"2.0" 也是合法的 JSON）。"""
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


def _paused(job: Any) -> bool:
    """任务是否被暂停（调度器启动前的待定任务暂停后 next_run_time 为 None，未暂停时还没有这个属性）。"""
    return getattr(job, "next_run_time", True) is None


def apply(app: Flask, chart: str, want: dict[str, Any]) -> None:
    """把一个图表的期望状态应用到本进程的调度器；want 里没有的键保持现状。

    键：removed（删除任务）、paused、seconds（间隔）、name / misfire_grace_time / coalesce。
    任务不存在且未删除时按 seconds（没有时按配置的间隔）补回。多进程模式下间隔任务对齐到 EPOCH。
    """
    coordinator = get(app)
    job_id = job_id_for(chart)
    with coordinator.lock:
        job = scheduler.get_job(job_id)
        if want.get("removed"):
            if job is not None:
                scheduler.remove_job(job_id)
            return
        start = {"start_date": EPOCH} if coordinator.enabled else {}
        seconds = float(want.get("seconds") or job_interval(job) or app.extensions["livechart"][chart].interval)
        options = {key: want[key] for key in JOB_OPTIONS if key in want}
        # 旧版本写的是 "1" / "0"（解码为 1 / 0）
        paused = bool(want["paused"]) if "paused" in want else None
        if job is None:
            # Flask-APScheduler 的 add_job：名称默认为任务 id，与配置的任务一致
            scheduler.add_job(id=job_id, func=JOB_FUNC, kwargs={"chart": chart}, trigger="interval", seconds=seconds,
                              **start, **options)  # fmt: skip
            job = scheduler.get_job(job_id)
        else:
            if paused is None:
                paused = _paused(job)
            if job_interval(job) != seconds or (coordinator.enabled and job.trigger.start_date != EPOCH):
                # reschedule_job 会重新计算下次运行时间（即恢复暂停的任务）：下面按 paused 再暂停
                scheduler.scheduler.reschedule_job(job_id, trigger="interval", seconds=seconds, **start)
            changed = {key: value for key, value in options.items() if getattr(job, key) != value}
            if changed:
                scheduler.scheduler.modify_job(job_id, **changed)
            job = scheduler.get_job(job_id)
        if paused and not _paused(job):
            scheduler.pause_job(job_id)
        elif paused is False and _paused(job):
            scheduler.resume_job(job_id)


def change(app: Flask, chart: str, want: dict[str, Any], *, replace: bool = False) -> None:
    """/scheduler API 对一个图表任务的修改：唯一的路径。

    多进程模式：先写进 Redis（写不进去时抛 redis 的异常，什么都没改），再和对齐线程一样从 Redis 应用到本进程；
    别的进程在 LIVECHART_RECONCILE_SECONDS 内跟上。单进程：直接应用到本进程的调度器。
    """
    coordinator = get(app)
    if not coordinator.enabled:
        apply(app, chart, want)
        return
    coordinator.record(chart, want, replace=replace)
    try:
        reconcile(app, [chart])
    except redis.RedisError:
        apply(app, chart, want)  # 已经记下了，只是读不回来：照所记的应用（Redis 恢复后对齐线程读到的也是它）


def reconcile(app: Flask, charts: list[str] | None = None) -> None:
    """把 Redis 中的期望状态应用到本地调度器（默认全部图表）：删除、补回、改间隔与选项（并对齐起点）、暂停或恢复。"""
    names = list(app.extensions["livechart"]) if charts is None else charts
    for chart, want in get(app).desired(names).items():
        apply(app, chart, want)


def _loop(app: Flask, coordinator: Coordinator, period: float) -> None:
    """对齐线程：定期应用期望状态；Redis 不可用时跳过这一轮（恢复后自动继续）。"""
    while not coordinator.stop.wait(period):
        if not scheduler.running:
            continue
        try:
            reconcile(app)
        except redis.RedisError:
            pass  # 由 store 记录 Redis 的可用性变化（只在状态改变时写日志）
        except Exception:
            log.exception("对齐任务状态失败")


# 跟随线程每秒 PING 一次；这么久没有 PONG 就当作断开（Redis 卡住而不是关闭连接时）
PONG_TIMEOUT = 3.0


def _follow(app: Flask, coordinator: Coordinator) -> None:
    """跟随线程：订阅新图通知，把新记录读进本进程的副本；断开后重连并追上错过的图。"""
    assert coordinator.client is not None
    charts = list(app.extensions["livechart"])
    while not coordinator.stop.is_set():
        pubsub = coordinator.client.pubsub()
        retry = 0.2
        try:
            pubsub.subscribe(coordinator.channel)
            with app.app_context():
                for chart in charts:  # 订阅之后再读：之后发布的新图一个也不会漏
                    store.load_image(chart)
            coordinator.live.set()
            last_pong = next_ping = time.monotonic()
            while not coordinator.stop.is_set():
                now = time.monotonic()
                if now >= next_ping:
                    pubsub.ping()
                    next_ping = now + 1
                if now - last_pong > PONG_TIMEOUT:
                    raise redis.ConnectionError("no PONG from Redis")
                message = pubsub.get_message(timeout=0.2)
                if message is None:
                    continue
                if message["type"] == "pong":
                    last_pong = time.monotonic()
                elif message["type"] == "message":
                    with app.app_context():
                        store.load_image(message["data"].decode())
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


def redis_client(app: Flask) -> redis.Redis | None:
    """缓存后端自己的 Redis 客户端（RedisCache、RedisSentinelCache 的主节点、RedisClusterCache）；
    其他后端为 None。复用它而不是另建连接：地址、密码、哨兵、集群、超时都只在 CACHE_* 里配置一次。"""
    backend = app.extensions["cache"][cache]
    return backend._write_client if isinstance(backend, RedisCache) else None


def init_app(app: Flask) -> None:
    """多进程模式（使用 Redis 缓存）下：对齐任务起点，记录 API 修改；对齐线程由 start() 启动。须在 cache.init_app 之后调用。"""
    prefix = app.config.get("CACHE_KEY_PREFIX") or ""
    coordinator = app.extensions[EXTENSION] = Coordinator(redis_client(app), f"{prefix}coord:")
    if coordinator.enabled:
        app.config["JOBS"] = [aligned(job) for job in app.config["JOBS"]]


def start(app: Flask) -> None:
    """多进程模式下启动跟随线程；调度器在运行时还启动对齐（见 start_reconciling）。"""
    coordinator = get(app)
    if not coordinator.enabled:
        return
    follower = threading.Thread(target=_follow, args=(app, coordinator), name="livechart-follow", daemon=True)
    coordinator.threads.append(follower)
    follower.start()
    if scheduler.running:
        start_reconciling(app)


def start_reconciling(app: Flask) -> None:
    """多进程模式下调度器开始运行时（启动时，或之后 POST /scheduler/start）：立即对齐一次
    （重启后恢复暂停、间隔与删除），并启动对齐线程（只启动一个）。"""
    coordinator = get(app)
    if not coordinator.enabled or coordinator.reconciling:
        return
    coordinator.reconciling = True
    try:
        reconcile(app)
    except redis.RedisError:
        log.warning("启动时 Redis 不可用：先按配置运行，Redis 恢复后再对齐任务状态")
    period = app.config["LIVECHART_RECONCILE_SECONDS"]
    reconciler = threading.Thread(target=_loop, args=(app, coordinator, period), name="livechart-reconcile", daemon=True)
    coordinator.threads.append(reconciler)
    reconciler.start()


def stop(app: Flask) -> None:
    """停止对齐线程（测试拆除、进程退出）。"""
    coordinator = app.extensions.get(EXTENSION)
    if coordinator is not None:
        coordinator.stop.set()
        for thread in coordinator.threads:
            thread.join(timeout=5)
