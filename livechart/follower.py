"""跟随线程：订阅新图通知与命令（总览见 livechart/coordination.py 第 4 点）。

每张新图写入 Redis 后在图片频道上发布它的标识（Coordinator.announce）；每个进程的跟随线程订阅它，立即把新记录读进
本进程的副本（store.last_known）。订阅连着时（live）副本与 Redis 一致，图片请求直接用它；断开时 live 清除，
请求回到每次读 Redis 的路径。命令频道上是 sync（期望状态变了）与 run <图表>（请所有者立即重绘）。
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import redis

from livechart import alignment
from livechart import keys
from livechart import store
from livechart import variants
from livechart.extensions import scheduler

if TYPE_CHECKING:
    from livechart.coordination import Coordinator

log = logging.getLogger("livechart")

# 跟随线程每秒 PING 一次；这么久没有 PONG 就当作断开（Redis 卡住而不是关闭连接时）
PONG_TIMEOUT = 3.0
# 跟随线程把变体需求写进 Redis 的周期（秒）：每个进程都有跟随线程，不运行任务的 web 进程也有
PUBLISH_DEMAND_SECONDS = 0.5


def follow(coordinator: Coordinator) -> None:
    """跟随线程：订阅新图通知与命令，把新记录读进本进程的副本；断开后重连并追上错过的图与修改。"""
    assert coordinator.client is not None
    app = coordinator.app
    channels = coordinator.key(keys.images_channel()), coordinator.key(keys.commands_channel())
    while not coordinator.stop.is_set():
        pubsub = coordinator.client.pubsub()
        retry = 0.2
        try:
            pubsub.subscribe(*channels)
            with app.app_context():
                for chart in coordinator.chart_names():  # 订阅之后再读：之后发布的新图一个也不会漏
                    store.load_image(chart)
                if scheduler.running:
                    alignment.sync(coordinator)  # 断开期间错过的修改
            coordinator.live.set()
            _listen(coordinator, pubsub, channels[0])
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


def _listen(coordinator: Coordinator, pubsub: redis.client.PubSub, images: str) -> None:
    """订阅连着时：每秒 PING 一次、定期写出变体需求、处理每一条消息；PONG 超时抛 redis.ConnectionError。"""
    app = coordinator.app
    last_pong = next_ping = next_publish = time.monotonic()
    while not coordinator.stop.is_set():
        now = time.monotonic()
        if now >= next_ping:
            pubsub.ping()
            next_ping = now + 1
        if now - last_pong > PONG_TIMEOUT:
            raise redis.ConnectionError(f"Redis {PONG_TIMEOUT:g} 秒没有回 PONG")
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
            if variants.chart_of(image) in coordinator.declared:  # 还没重新载入配置的进程可能发布已经删掉的图表
                with app.app_context():
                    store.load_image(image)
        elif message["type"] == "message":
            with app.app_context():
                _command(coordinator, message["data"].decode())


def _command(coordinator: Coordinator, command: str) -> None:
    """命令频道上的一条命令：sync（期望状态变了）、run <图表>（请所有者立即重绘）。"""
    verb, _, chart = command.partition(" ")
    if verb == "sync" and scheduler.running:
        alignment.sync(coordinator)
    elif verb == "run" and coordinator.owns(chart) and coordinator.on_run is not None:
        coordinator.on_run(chart)
