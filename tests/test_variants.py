"""图片的变体（livechart/variants.py）：2×、暗色、窄版式各有自己的路径；第一次请求画一次，
之后有人要的变体由所有者在后台接着重绘（livechart/demand.py），多进程时需求经 Redis 到达所有者。"""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import redis
from PIL import Image

from livechart import jobs
from livechart import keys
from livechart import peer
from livechart import store
from livechart import variant_redraw
from livechart import variants
from tests.conftest import own
from tests.conftest import shutdown_scheduler
from tests.conftest import wait_for
from tests.test_ops import metric
from tests.test_redis import CREDENTIALS


def size_of(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        return image.size


def corner(png: bytes) -> int:
    """左上角一个像素的亮度（R+G+B）：图的底色。"""
    with Image.open(io.BytesIO(png)) as image:
        return sum(image.convert("RGB").getpixel((1, 1)))


def version(app: Any, image: str) -> int:
    with app.app_context():
        record = store.load_image(image)
        return record.version if record else 0


def test_every_variant_has_its_own_path_and_pixels(client: Any) -> None:
    default = client.get("/charts/cpu.png")
    assert default.status_code == 200 and size_of(default.data) == (800, 400) and corner(default.data) > 600
    expected = {
        "/charts/cpu@2x.png": (1600, 800),
        "/charts/cpu.dark.png": (800, 400),
        "/charts/cpu.narrow.png": (400, 250),
        "/charts/cpu.dark.narrow@2x.png": (800, 500),
    }
    for path, pixels in expected.items():
        answer = client.get(path)
        assert answer.status_code == 200 and answer.mimetype == "image/png", path
        assert size_of(answer.data) == pixels, path
        assert (corner(answer.data) < 150) == (".dark" in path), path  # 暗色图没有白底
        assert answer.headers["ETag"] != default.headers["ETag"]
        assert int(answer.headers["X-Livechart-Rendered-At"]) >= int(default.headers["X-Livechart-Rendered-At"])
    # 图表自己的主题就是亮色：cpu.light.png 与 cpu.png 是同一张图（只画、只存一次）
    assert client.get("/charts/cpu.light.png").headers["ETag"] == default.headers["ETag"]


def test_an_unknown_variant_or_chart_is_a_json_404(client: Any) -> None:
    for path, text in (
        ("/charts/cpu.purple.png", "没有图表或变体 'cpu.purple'"),
        ("/charts/cpu@3x.png", "<chart>[.light|.dark][.narrow][@2x].png"),
        ("/charts/cpu@1x.png", "没有图表或变体 'cpu@1x'"),  # 1× 只有一个地址
        ("/charts/nope@2x.png", "没有图表 'nope'"),
    ):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.is_json, path
        assert text in answer.json["message"], answer.json


def test_a_variant_is_drawn_once_on_its_first_request_then_kept_fresh_while_wanted(app: Any) -> None:
    client = app.test_client()
    client.get("/charts/cpu.png")
    misses = metric(client, "livechart_cache_misses_total", chart="cpu")
    answers: list[Any] = []
    threads = [threading.Thread(target=lambda: answers.append(app.test_client().get("/charts/cpu@2x.png"))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [200] * 6
    assert len({answer.headers["ETag"] for answer in answers}) == 1
    assert version(app, "cpu@2x") == 1  # 六个并发的请求只画了一次
    assert metric(client, "livechart_cache_misses_total", chart="cpu") == misses + 1

    redrawer = jobs.redrawers(app)["cpu"]
    with app.app_context():
        default = redrawer.redraw()
    assert version(app, "cpu@2x") == 2  # 有人要：后台重绘默认图之后接着画它
    with app.app_context():
        assert store.load_image("cpu@2x").based_on == default.version
    assert version(app, "cpu.dark") == 0  # 没人要的变体不画

    # 五分钟没人要：不再在后台重绘
    demand = variant_redraw.demand(app)
    for entry in demand.asked:
        demand.asked[entry] -= 301
    with app.app_context():
        redrawer.redraw()
        redrawer.redraw()
    assert version(app, "cpu@2x") == 2


def test_a_variant_that_fell_behind_is_redrawn_on_request(app: Any) -> None:
    client = app.test_client()
    first = client.get("/charts/cpu.dark.png")
    demand = variant_redraw.demand(app)
    for entry in demand.asked:
        demand.asked[entry] -= 301
    redrawer = jobs.redrawers(app)["cpu"]
    with app.app_context():
        redrawer.redraw()
        latest = redrawer.redraw()
    again = client.get("/charts/cpu.dark.png")
    assert again.headers["ETag"] != first.headers["ETag"]  # 不是几版以前的旧图
    with app.app_context():
        assert store.load_image("cpu.dark").based_on == latest.version


def test_forgetting_a_chart_forgets_its_variants(app: Any) -> None:
    client = app.test_client()
    assert client.get("/charts/demo.dark@2x.png").status_code == 200
    with app.app_context():
        store.forget("demo")
        assert store.load_image("demo.dark@2x") is None and store.last_known("demo.dark@2x") is None


def test_demand_reaches_the_owner_through_redis(make_app: Any, redis_url: str) -> None:
    """别的进程收到的请求也让所有者在后台重绘这个变体：需求经 Redis 到达所有者。"""
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url, "LIVECHART_SCHEDULER": "paused", **CREDENTIALS}
    owner = make_app("production", **settings)
    own(owner, "cpu")
    shutdown_scheduler()
    other = make_app("production", **{**settings, "LIVECHART_WARM_CACHE": False, "LIVECHART_SCHEDULER": "off"})
    assert other.test_client().get("/charts/cpu.narrow@2x.png").status_code == 200
    client = redis.Redis.from_url(redis_url)
    demand = f"livechart:{keys.demand('cpu')}"
    wait_for(lambda: client.hget(demand, ".narrow@2x") is not None, 5, "the demand never reached Redis")
    assert time.time() - float(client.hget(demand, ".narrow@2x")) < 60
    drawn = version(owner, "cpu.narrow@2x")
    with owner.app_context():
        jobs.redrawers(owner)["cpu"].redraw()
        record = store.load_image("cpu.narrow@2x")
    assert record.version == drawn + 1 and record.rendered_by == peer.owner()
    assert size_of(record.png) == (800, 500)


def test_variants_are_drawn_in_render_processes_too(make_app: Any) -> None:
    app = make_app(LIVECHART_RENDER_PROCESSES=1)
    client = app.test_client()
    assert size_of(client.get("/charts/cpu.dark@2x.png").data) == (1600, 800)
    assert corner(client.get("/charts/cpu.dark@2x.png").data) < 150
    assert size_of(client.get("/charts/demo.narrow.png").data) == variants.size(
        jobs.redrawers(app)["demo"].spec, variants.Variant(narrow=True)
    )


def image(version: int, based_on: int = 0, age: float = 0.0) -> store.ChartImage:
    return store.ChartImage(b"", version, "e", time.time() - age, 1.0, 800, 400, "", based_on)


def test_a_variant_is_current_only_with_the_default_s_data_or_just_after_it() -> None:
    default = image(10, age=0.5)
    assert variant_redraw.current(image(3, based_on=10), default)
    assert variant_redraw.current(image(3, based_on=9), default)  # 所有者刚画完默认图，正在接着画变体
    assert not variant_redraw.current(
        image(3, based_on=9), image(10, age=variant_redraw.VARIANT_GRACE + 1)
    )  # 一个长间隔之前的数据
    assert not variant_redraw.current(image(3, based_on=8), default)
    assert variant_redraw.current(image(3, based_on=0), None)


def test_variants_never_keep_the_default_image_from_its_next_tick(app: Any) -> None:
    """变体在计划运行的期限（下一个节拍之前）之后不再画：留给默认图；下一次从没画到的那个开始。"""
    client = app.test_client()
    for path in ("/charts/cpu@2x.png", "/charts/cpu.dark.png"):
        assert client.get(path).status_code == 200
    redrawer = jobs.redrawers(app)["cpu"]
    with app.app_context():
        variant_redraw.redraw_variants(redrawer, None, 1, until=time.monotonic())
    assert version(app, "cpu@2x") == version(app, "cpu.dark") == 1
    with app.app_context():
        for _ in range(2):
            variant_redraw.redraw_variants(redrawer, None, 1, until=None)
    assert version(app, "cpu@2x") == version(app, "cpu.dark") == 3


def test_a_function_that_gathers_its_own_data_gathers_once_per_tick(make_app: Any) -> None:
    charts = {"own": {"title": "own", "draw": "tests.draw_functions:gathering"}}
    job = {"id": "redraw-own", "func": "livechart.jobs:redraw", "kwargs": {"chart": "own"}, "trigger": "interval", "seconds": 60}
    app = make_app(CHARTS=charts, JOBS=[job])
    client = app.test_client()
    assert client.get("/charts/own@2x.png").status_code == 200
    redrawer = jobs.redrawers(app)["own"]
    with app.app_context():
        redrawer.redraw()
        redrawer.redraw()
    assert redrawer.renderer.state["samples"] == [0, 1, 2]  # 预热与两次重绘；2× 的变体没有多收集
    assert version(app, "own@2x") == 3


def test_a_variant_that_cannot_be_drawn_falls_back_to_an_image(make_app: Any) -> None:
    """绘图函数只在暗色下出错：暗色的请求拿到默认图（而不是 503），日志说一次。"""
    charts = {"picky": {"title": "picky", "draw": "tests.draw_functions:dark_fails"}}
    job = {
        "id": "redraw-picky",
        "func": "livechart.jobs:redraw",
        "kwargs": {"chart": "picky"},
        "trigger": "interval",
        "seconds": 60,
    }
    app = make_app(CHARTS=charts, JOBS=[job])
    client = app.test_client()
    default, dark = client.get("/charts/picky.png"), client.get("/charts/picky.dark.png")
    assert dark.status_code == 200 and dark.headers["ETag"] == default.headers["ETag"]
