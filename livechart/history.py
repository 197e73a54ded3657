"""每个图表的滚动窗口（历史数据），所有进程共用一份。

使用 Redis 时窗口是一个有序集合：分数是行的时刻（秒），成员是这一行的 JSON（[纳秒时刻, {列: 值}]）：
每行自带列名，数据源多出或少了一列时旧行照样读得回来（缺的值为 NaN），写入序号在旁边的哈希里。
写一个节拍只加新行（一个 Lua 脚本：加入、同一时刻以新值为准、按时长与点数裁剪、写入序号加一），
Redis 的工作量与新行数成正比，而不是与窗口大小成正比（bench/README.md 有测量）。每个进程——所有者、
别的工作进程、web 角色——读到的都是同一份完整的窗口；所有者在本进程另有一份副本用来绘制，
写入序号不是它上次写入的下一个时（别的进程写过：交接、补写）就从 Redis 重读。

没有 Redis 时（嵌入式 SimpleCache，单进程）窗口就在本进程的内存里，接口相同。
本模块不导入 Flask 的请求相关部分；Redis 的错误由 store.guarded 换成 store.Unavailable。
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import pandas as pd
import redis
from flask import Flask
from flask import current_app

from livechart import keys
from livechart import store
from livechart.extensions import cache
from livechart.peer import text
from livechart.window import append_window

EXTENSION = "livechart.history"

# 加入新行并裁剪；返回新的写入序号。KEYS：窗口、元数据、租约。ARGV：点数、时长（空串为不限）、写入者（空串为不检查）、
# 数据源的指纹（空串为不检查）、之后每行两个：分数、成员。写入者不再持有租约时什么也不写，返回 -1：交出图表之后才返回的
# 取数结果不进窗口，窗口里相邻的行总是来自同一个所有者。
# 数据源的指纹与窗口记下的不同（配置文件换了这个图表的数据源，docs/reload.md）：先清空窗口再写，序号多加一
# （写入者看到序号跳过一个就从 Redis 重读，本进程副本里旧数据源的行也就没了）。几个进程先后重新载入配置，
# 也只有第一个用新数据源写入的所有者清空一次。
# 开头的 #!lua（Redis 7 的脚本标记，没有 allow-oom）让满了的 Redis 整个拒绝这个脚本；没有它时 Redis 只在第一个写命令
# 检查内存，而第一个写命令 ZREMRANGEBYSCORE 只会释放内存，之后的 ZADD 就越过 maxmemory 写进去了（docs/pitfalls.md 第 30 条）
APPEND = """#!lua
if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[3] then
  return -1
end
if ARGV[4] ~= '' then
  local source = redis.call('HGET', KEYS[2], 'source')
  if source and source ~= ARGV[4] then
    redis.call('DEL', KEYS[1])
    redis.call('HINCRBY', KEYS[2], 'seq', 1)
  end
  if source ~= ARGV[4] then redis.call('HSET', KEYS[2], 'source', ARGV[4]) end
end
for i = 5, #ARGV, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i])
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
if ARGV[2] ~= '' then
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if #last > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(last[2]) - tonumber(ARGV[2]))
  end
end
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if excess > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1) end
return redis.call('HINCRBY', KEYS[2], 'seq', 1)
"""


class NotOwner(Exception):
    """写入时本进程已经不是图表的所有者（租约在别的进程手里）。"""


def encode(rows: pd.DataFrame) -> list[Any]:
    """新行 → Lua 脚本的参数：每行一个分数（秒）与一个成员（[纳秒, {列: 值}] 的 JSON，值为 float，NaN 照写）。"""
    stamps = pd.DatetimeIndex(rows.index).as_unit("ns").asi8
    columns = [str(column) for column in rows.columns]
    values = rows.to_numpy(dtype=float)
    args: list[Any] = []
    for stamp, row in zip(stamps.tolist(), values.tolist(), strict=True):
        args.append(repr(stamp / 1e9))
        args.append(json.dumps([stamp, dict(zip(columns, row, strict=True))]))
    return args


def decode(members: list[bytes]) -> pd.DataFrame:
    """有序集合的成员（已按时刻排序）→ 窗口 DataFrame（索引为本地、无时区的时刻；某行没有的列为 NaN）。"""
    table = json.loads(b"[" + b",".join(members) + b"]")
    stamps = np.fromiter((row[0] for row in table), dtype=np.int64, count=len(table))
    index = pd.DatetimeIndex(stamps.view("datetime64[ns]"), name="time")
    return pd.DataFrame.from_records([row[1] for row in table], index=index).astype(float)


class LocalHistory:
    """单进程：窗口在本进程的内存里。"""

    def __init__(self) -> None:
        self.windows: dict[str, tuple[pd.DataFrame, int]] = {}
        # 每个窗口的数据源指纹（与 Redis 的 APPEND 脚本一样：换了数据源的第一次写入清空窗口）
        self.sources: dict[str, str] = {}
        self.lock = threading.Lock()

    def snapshot(self, chart: str) -> tuple[pd.DataFrame | None, int]:
        """整个窗口（还没有时为 None）与写入序号。"""
        return self.windows.get(chart, (None, 0))

    def append(self, chart: str, rows: pd.DataFrame, points: int, span: float | None, writer: str = "", source: str = "") -> int:
        """并入新行，返回新的写入序号（单进程没有所有权，writer 不用）。source 与窗口记下的不同时先清空窗口，序号多加一。"""
        with self.lock:
            window, seq = self.windows.get(chart, (None, 0))
            if source:
                if self.sources.get(chart, source) != source:
                    window, seq = None, seq + 1
                self.sources[chart] = source
            self.windows[chart] = (append_window(window, rows, points, span), seq + 1)
            return seq + 1

    def source_of(self, chart: str) -> str | None:
        """窗口里的行来自哪个数据源（指纹）；还不知道时为 None。"""
        return self.sources.get(chart)

    def legacy(self, chart: str) -> pd.DataFrame | None:
        """单进程没有上一个布局留下的窗口。"""
        return None

    def forget(self, chart: str) -> None:
        """删掉图表的窗口。"""
        self.windows.pop(chart, None)

    def remove(self, chart: str) -> None:
        """图表从配置里删掉了：窗口与写入序号都不要了。"""
        with self.lock:
            self.windows.pop(chart, None)
            self.sources.pop(chart, None)


class RedisHistory:
    """多进程：窗口在 Redis 的有序集合里。"""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.script = client.register_script(APPEND)

    def _keys(self, chart: str) -> tuple[str, str]:
        return keys.raw(self.prefix, keys.window(chart)), keys.raw(self.prefix, keys.window_meta(chart))

    def snapshot(self, chart: str) -> tuple[pd.DataFrame | None, int]:
        """整个窗口（还没有写过时为 None）与写入序号，一次事务里读出。"""
        window, meta = self._keys(chart)

        def read() -> list[Any]:
            pipe = self.client.pipeline(transaction=True)
            pipe.hget(meta, "seq")
            pipe.zrange(window, 0, -1)
            return pipe.execute()

        seq, members = store.guarded(read)
        return (decode(members) if members else None), int(seq or 0)

    def append(self, chart: str, rows: pd.DataFrame, points: int, span: float | None, writer: str = "", source: str = "") -> int:
        """加入新行（只传新行），返回新的写入序号。writer：所有者的租约标识，它已不持有租约时抛 NotOwner。
        source：数据源的指纹，与窗口记下的不同时先清空窗口（见 APPEND）。"""
        window, meta = self._keys(chart)
        args = [points, "" if span is None else repr(float(span)), writer, source, *encode(rows)]
        seq = int(
            store.guarded(self.script, keys=[window, meta, keys.raw(self.prefix, keys.lease(chart))], args=args, write=True)
        )
        if seq < 0:
            raise NotOwner(chart)
        return seq

    def source_of(self, chart: str) -> str | None:
        """窗口里的行来自哪个数据源（指纹，见 APPEND）；还不知道时为 None。"""
        value = store.guarded(self.client.hget, self._keys(chart)[1], "source")
        return text(value) if value else None

    def legacy(self, chart: str) -> pd.DataFrame | None:
        """上一个布局（v1）留下的整个窗口：只导入一次（元数据里记下），之后总是 None。"""
        _, meta = self._keys(chart)
        if not store.guarded(self.client.hsetnx, meta, "imported", 1, write=True):
            return None
        frame = store.guarded(cache.get, keys.legacy_history(chart))
        return frame if isinstance(frame, pd.DataFrame) else None

    def forget(self, chart: str) -> None:
        """删掉图表窗口里的行（元数据留着：写入序号接着数，上一个布局的窗口不会再导入）。"""
        store.guarded(self.client.delete, self._keys(chart)[0], write=True)

    def remove(self, chart: str) -> None:
        """图表从配置里删掉了：窗口与元数据都删掉（同名的图表再加回来时从头开始）。"""
        store.guarded(self.client.delete, *self._keys(chart), write=True)


History = LocalHistory | RedisHistory


def init_app(app: Flask, client: redis.Redis | None) -> None:
    """有 Redis 客户端时窗口放在 Redis，否则在本进程内存里。"""
    prefix = app.config.get("CACHE_KEY_PREFIX") or ""
    app.extensions[EXTENSION] = RedisHistory(client, prefix) if client is not None else LocalHistory()


def get(app: Flask | None = None) -> History:
    """当前 app 的窗口存储。"""
    return (app or current_app).extensions[EXTENSION]


def load(chart: str) -> pd.DataFrame | None:
    """当前 app 中图表的整个窗口（所有进程相同）；缓存不可用时抛 store.Unavailable。"""
    return get().snapshot(chart)[0]


def bounded(rows: pd.DataFrame, points: int, span: float | None) -> pd.DataFrame:
    """按窗口大小裁剪一批行（等待补写的行也有界）。"""
    return append_window(None, rows, points, span) if len(rows) else rows
