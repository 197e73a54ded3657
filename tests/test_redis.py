"""生产配置 + 真实的 redis-server：记录存入 Redis，并被另一个 app（另一个进程的替身）读到。"""

from __future__ import annotations

from typing import Any

import redis

from livechart import jobs
from livechart import store
from tests.conftest import shutdown_scheduler

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
    assert jobs.workers(reader)["cpu"].renders == 0
