"""本进程在多进程协调中的一方（livechart/coordination.py）：身份、Redis 客户端、键前缀与配置文件声明的任务。

租约（livechart/leases.py）、成员（livechart/membership.py）与期望状态（livechart/desired.py）都建在它上面；
client 为 None 时（单进程，嵌入式缓存）它们的操作都是空操作或总是成功。
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
from typing import Any

import redis

from livechart import keys


def owner() -> str:
    """本进程的标识“主机名:pid”（写进图片记录，状态接口里可以看到是谁渲染的）。
    每次调用时取 pid：gunicorn 的主进程导入本模块后才 fork 出工作进程。"""
    return f"{socket.gethostname()}:{os.getpid()}"


def text(value: bytes | str) -> str:
    """Redis 回答的键或值 → 文字（客户端不解码时是 bytes，redis-py 的类型标注两种都允许）。"""
    return value.decode() if isinstance(value, bytes) else value


def as_json(value: Any) -> Any:
    """经过一次 JSON 往返的值（与 Redis 里读回的比较）。"""
    return json.loads(json.dumps(value))


class Peer:
    """本进程这一方：各部分共用的身份与连接。"""

    def __init__(self, client: redis.Redis | None, prefix: str, declared: dict[str, dict[str, Any]]) -> None:
        self.client = client
        self.prefix = prefix
        # 配置文件声明的任务：图表名 → {seconds, 选项}。每个图表正好一个任务（settings.parse_settings 保证），
        # 所以它的键就是运行中的配置里的全部图表；重新载入配置时由 Membership.redeclare 换上新的
        self.declared = declared
        # 租约与成员上的标识：主机名:pid 加一个随机数（pid 被重用时也不会认错）
        self.me = f"{owner()}:{secrets.token_hex(3)}"
        # 进程正在退出：线程停下，不再续约或接手
        self.stop = threading.Event()

    @property
    def enabled(self) -> bool:
        """是否在多进程模式下（有 Redis）。"""
        return self.client is not None

    def chart_names(self) -> list[str]:
        """运行中的配置里的全部图表（声明了任务的图表就是全部图表）。"""
        return list(self.declared)

    def key(self, name: str) -> str:
        """直接用 Redis 客户端时的完整键名。"""
        return keys.raw(self.prefix, name)
