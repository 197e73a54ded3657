"""生产配置 + 真实的 redis-server：记录存入 Redis，并被另一个 app（另一个进程的替身）读到。"""

from __future__ import annotations

import signal
import time
from typing import Any

import redis

from livechart import coordination
from livechart import jobs
from livechart import keys
from livechart import store
from livechart.extensions import cache
from tests.conftest import RedisServer
from tests.conftest import own
from tests.conftest import shutdown_scheduler
from tests.conftest import wait_for

CREDENTIALS = {"LIVECHART_API_USER": "ops", "LIVECHART_API_PASSWORD": "s3cret"}


def test_records_live_in_redis_and_are_shared(make_app: Any, redis_url: str) -> None:
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url, "LIVECHART_SCHEDULER": "paused", **CREDENTIALS}
    writer = make_app("production", **settings)
    served = writer.test_client().get("/plot.png")
    assert served.status_code == 200
    keys = {k.decode() for k in redis.Redis.from_url(redis_url).keys("livechart:*")}
    assert store.image_key("cpu") in {k.removeprefix("livechart:") for k in keys}

    # 另一个只读缓存、不预热的 app 直接拿到同一张图，不需要自己绘制
    shutdown_scheduler()
    reader = make_app("production", **{**settings, "LIVECHART_WARM_CACHE": False, "LIVECHART_SCHEDULER": "off"})
    again = reader.test_client().get("/plot.png")
    assert again.status_code == 200
    assert again.data == served.data and again.headers["ETag"] == served.headers["ETag"]
    assert jobs.redrawers(reader)["cpu"].renders == 0


def test_a_redis_that_hangs_is_not_waited_for_on_every_request(redis_server: RedisServer, make_app: Any) -> None:
    """SIGSTOP：Redis 接受连接却不回答。判定不可用之后，请求不再每次等满 1 秒的超时。"""
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_server.url, "LIVECHART_SCHEDULER": "paused", **CREDENTIALS}
    app = make_app("production", **settings)
    client = app.test_client()
    assert client.get("/plot.png").status_code == 200
    with app.app_context():
        backend = cache.cache
    calls = []
    original = backend._read_client.execute_command

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return original(*args, **kwargs)

    backend._read_client.execute_command = counted
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        # 跟随线程约 3 秒收不到 PONG 就放弃订阅：之后图片请求走读缓存的路径
        wait_for(lambda: not coordination.get(app).live.is_set(), 15, "the follower gives up")
        # 第一个发现 Redis 不回答的请求等满超时，并提供内存中的图
        wait_for(lambda: client.get("/plot.png").headers.get("X-Livechart-Stale") == "cache-unavailable", 15, "stale image")
        calls.clear()
        started = time.monotonic()
        images = [client.get("/plot.png") for _ in range(20)]
        statuses = [client.get("/api/charts") for _ in range(10)]
        elapsed = time.monotonic() - started
        assert [r.status_code for r in images] == [200] * 20
        assert [r.headers.get("X-Livechart-Stale") for r in images] == ["cache-unavailable"] * 20
        assert all(r.status_code == 503 and r.get_json()["error"] == "unavailable" for r in statuses)
        # 每 PROBE_SECONDS 最多试探一次（外加开始时的一次）；以前是 30 个请求各等 1 秒
        assert len(calls) <= 2 + elapsed / store.PROBE_SECONDS, (len(calls), elapsed)
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    wait_for(lambda: client.get("/api/charts").status_code == 200, 10, "recovery after SIGCONT")


def test_stopping_hands_back_the_charts_takes_none_afterwards_and_can_be_repeated(
    redis_server: RedisServer, make_app: Any
) -> None:
    """进程退出（coordination.stop）：交出拥有的图表、退出成员。以前之后到达的 POST …/run 还会接手没有所有者的图表
    （take），留下一个没人续约的租约：别的进程要等两个间隔才能接手。再调用一次 stop 什么也不改。"""
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_server.url, "LIVECHART_SCHEDULER": "paused", **CREDENTIALS}
    app = make_app("production", **settings)
    coordinator = coordination.get(app)
    client = redis.Redis.from_url(redis_server.url)
    members, declared = coordinator.key(keys.members()), coordinator.key(keys.declared())
    with app.app_context():
        coordinator.heartbeat(rendering=True)
    own(app, "cpu")
    assert client.get(coordinator.key(keys.lease("cpu"))) == coordinator.me.encode()
    assert client.zscore(members, coordinator.me) is not None and client.hexists(declared, coordinator.me)

    coordination.stop(app)
    assert client.get(coordinator.key(keys.lease("cpu"))) is None
    assert client.zscore(members, coordinator.me) is None and not client.hexists(declared, coordinator.me)
    with app.app_context():
        assert coordinator.take("demo", 60) is False
        assert coordinator.claim("demo", 60) == "stopping"
    assert client.get(coordinator.key(keys.lease("demo"))) is None and not coordinator.owns("demo")

    # 另一个进程接手之后，再调用一次 stop：不动别人的租约，也不出错
    client.set(coordinator.key(keys.lease("cpu")), "another:1:abc", px=60_000)
    coordination.stop(app)
    assert client.get(coordinator.key(keys.lease("cpu"))) == b"another:1:abc"
