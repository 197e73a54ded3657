"""GET /api/charts/<name>/data：图表据以绘制的滚动窗口，JSON 与 CSV。

数值与模拟数据源从头产生的序列逐个比较（demo 数据源只取决于种子与第几个点）；
真实的 gunicorn 进程共用一个 Redis 时，渲染的进程与只提供数据的 web 进程回答同样的数据。
"""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from tzlocal import get_localzone

import config
from livechart import export
from livechart import history
from livechart import jobs
from livechart import redrawer
from livechart.chart_options import MAX_POINTS
from livechart.sources import make_source
from livechart.spec import ChartSpec
from livechart.spec import parse_chart
from tests.conftest import RedisServer
from tests.conftest import wait_for
from tests.e2e_config import ProductionE2EConfig
from tests.test_production import start_gunicorn

DATA = "/api/charts/demo/data"
CREDENTIALS = {"LIVECHART_API_USER": "ops", "LIVECHART_API_PASSWORD": "s3cret"}
DEMO = config.Config.CHARTS["demo"]
# 带时区偏移的时间：不论服务器在哪个时区，导出的时刻都必须与这些时刻相同
GAPPY_TIMES = ["2024-05-01T12:00:00+08:00", "2024-05-01T04:00:01Z", "2024-05-01T00:00:02-04:00"]


def gappy() -> pd.DataFrame:
    """python 数据源：三行固定时刻的数据，其中有缺失值，还有一列图表不画的 c。"""
    return pd.DataFrame(
        {"time": GAPPY_TIMES, "a": [1.5, math.nan, 3.25], "b": [math.nan, 2.0, -0.5], "c": [7.0, 8.0, 9.0]},
    )


def demo_values(spec: ChartSpec, interval: float, renders: int) -> list[list[float]]:
    """同样参数的 demo 数据源从头产生的数值。第一次渲染先取一个点，再回填它之前的点（窗口的点数，或时长除以间隔，
    最多 redrawer.MAX_BACKFILL，减去取到的那一个；Redrawer 的顺序），之后每次渲染再取一个点。
    图表的窗口是最后的 spec.points 个（这里的时长窗口都装得下回填的点）。"""
    source = make_source(spec.source_type, spec.source_params)
    first = source.fetch()
    points = spec.points if spec.span is None else int(spec.span // interval)
    frames = [source.backfill(min(points, redrawer.MAX_BACKFILL) - 1, interval), first]
    frames += [source.fetch() for _ in range(renders - 1)]
    values = pd.concat(frames)[[s.column for s in spec.series]].to_numpy().tolist()
    return values[-spec.points :]


def expected(app: Any, renders: int) -> list[list[float]]:
    demo_redrawer = jobs.redrawers(app)["demo"]
    return demo_values(demo_redrawer.spec, demo_redrawer.interval, renders)


def values(body: dict[str, Any]) -> list[list[float | None]]:
    return [row[1:] for row in body["rows"]]


def test_json_is_the_window_the_chart_is_drawn_from(app: Any, client: Any) -> None:
    body = client.get(DATA).get_json()
    # 预热画了第一版：窗口是回填的点加上这一次取到的点
    assert body["version"] == 1
    assert values(body) == expected(app, renders=1)
    assert body["chart"] == "demo" and body["title"] == DEMO["title"]
    assert body["columns"] == ["time", *DEMO["series"]]
    assert body["series"] == [{"column": column, "label": label, "axis": "left"} for column, label in DEMO["series"].items()]
    assert body["total"] == len(body["rows"]) == jobs.redrawers(app)["demo"].spec.points

    with app.app_context():
        jobs.redraw("demo")
        jobs.redraw("demo")
        window = history.load("demo")
    body = client.get(DATA).get_json()
    assert values(body) == expected(app, renders=3)
    # version 与图片和状态里的版本号一致：客户端可以把数据与 PNG 对应起来
    assert body["version"] == 3 == client.get("/api/charts/demo").get_json()["version"]
    assert client.get("/charts/demo.png").headers["X-Livechart-Version"] == "3"
    # 时间：ISO 8601，带偏移；换回本地时间正是窗口的索引
    zone = get_localzone()
    assert body["timezone"] == str(zone)
    instants = [pd.Timestamp(datetime.fromisoformat(row[0])) for row in body["rows"]]
    assert all(instant.tzinfo is not None for instant in instants)
    assert [instant.tz_convert(zone).tz_localize(None) for instant in instants] == list(window.index)


def test_since_is_exclusive_and_limit_keeps_the_last_rows(app: Any, client: Any) -> None:
    rows = client.get(DATA).get_json()["rows"]
    cut = rows[100][0]
    after = client.get(DATA, query_string={"since": cut}).get_json()
    assert after["rows"] == rows[101:]
    assert after["total"] == len(rows) - 101
    # 同一时刻的其他写法：UTC（Z）与不带偏移的本地时间
    instant = datetime.fromisoformat(cut)
    for spelling in (
        instant.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        instant.astimezone(get_localzone()).replace(tzinfo=None).isoformat(),
    ):
        assert client.get(DATA, query_string={"since": spelling}).get_json()["rows"] == rows[101:], spelling

    limited = client.get(DATA, query_string={"limit": 5}).get_json()
    assert limited["rows"] == rows[-5:]
    assert limited["total"] == len(rows)
    both = client.get(DATA, query_string={"since": cut, "limit": 5}).get_json()
    assert both["rows"] == rows[-5:]
    assert both["total"] == len(rows) - 101
    nothing = client.get(DATA, query_string={"limit": 0}).get_json()
    assert nothing["rows"] == [] and nothing["total"] == len(rows)

    # 轮询：把拿到的最后一行的时间作为 since 传回，恰好只得到之后的新行
    assert client.get(DATA, query_string={"since": rows[-1][0]}).get_json()["rows"] == []
    with app.app_context():
        jobs.redraw("demo")
    new = client.get(DATA, query_string={"since": rows[-1][0]}).get_json()
    assert len(new["rows"]) == 1
    assert new["rows"][0][1:] == expected(app, renders=2)[-1]


def test_both_counts_agree(client: Any) -> None:
    """X-Livechart-Total 与 JSON 的 total 相同（CSV 没有 total 字段，只有这个头）。"""
    rows = client.get(DATA).get_json()["rows"]
    for form in ("json", "csv"):
        response = client.get(DATA, query_string={"since": rows[99][0], "limit": 3, "format": form})
        assert response.headers["X-Livechart-Total"] == str(len(rows) - 100)


def test_default_limit_and_the_maximum(make_app: Any) -> None:
    """按时长的窗口（2 小时、每秒一个点）有 5000 个点：默认只给最后 1000 行，limit 最多到窗口的上限。"""
    chart = {**DEMO, "window": "2h"}
    job = {**config.Config.JOBS[1]}
    app = make_app(CHARTS={"demo": chart}, JOBS=[job])
    client = app.test_client()
    everything = client.get(DATA, query_string={"limit": MAX_POINTS}).get_json()
    assert everything["total"] == len(everything["rows"]) > export.DEFAULT_LIMIT
    assert values(everything) == expected(app, renders=1)
    default = client.get(DATA).get_json()
    assert default["rows"] == everything["rows"][-export.DEFAULT_LIMIT :]
    assert default["total"] == everything["total"]
    assert client.get(DATA, query_string={"limit": MAX_POINTS + 1}).status_code == 400


def test_csv_has_a_header_row_and_the_same_rows(client: Any) -> None:
    data = client.get(DATA).get_json()
    response = client.get(DATA, query_string={"format": "csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=demo.csv"
    assert response.headers["X-Livechart-Version"] == str(data["version"])
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert lines[0] == data["columns"]
    assert [[line[0], *map(float, line[1:])] for line in lines[1:]] == data["rows"]


def test_missing_values_are_null_in_json_and_empty_in_csv(make_app: Any) -> None:
    """列是图表的序列（按 series 的顺序，不画的列 c 不在其中）；NaN 在 JSON 里是 null，在 CSV 里是空。"""
    chart = {
        "title": "有缺失值的数据",
        "source": {"type": "python", "callable": "tests.test_data_api:gappy"},
        "series": {"b": "乙", "a": {"label": "甲", "axis": "right"}},
    }
    job = {"id": "redraw-gaps", "func": "livechart.jobs:redraw", "kwargs": {"chart": "gaps"}, "trigger": "interval", "seconds": 1}
    client = make_app(CHARTS={"gaps": chart}, JOBS=[job]).test_client()
    response = client.get("/api/charts/gaps/data")
    text = response.get_data(as_text=True)
    assert "NaN" not in text
    body = response.get_json()
    assert body["columns"] == ["time", "b", "a"]
    assert body["series"] == [{"column": "b", "label": "乙", "axis": "left"}, {"column": "a", "label": "甲", "axis": "right"}]
    assert values(body) == [[None, 1.5], [2.0, None], [-0.5, 3.25]]
    # 数据源给的时刻（各带不同的偏移）原样保留：同一时刻，写成服务器时区
    assert [datetime.fromisoformat(row[0]) for row in body["rows"]] == [datetime.fromisoformat(t) for t in GAPPY_TIMES]

    lines = client.get("/api/charts/gaps/data", query_string={"format": "csv"}).get_data(as_text=True).splitlines()
    assert lines[0] == "time,b,a"
    assert [line.split(",", 1)[1] for line in lines[1:]] == [",1.5", "2.0,", "-0.5,3.25"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("format=xml", "format"),
        ("format=", "format"),
        ("since=yesterday", "since"),
        ("since=", "since"),
        ("since=2024-13-01T00:00:00", "since"),
        ("since=2024-05-01T12:00:00%2B25:00", "since"),
        ("limt=5", "limt"),
        ("limit=1&limit=2", "limit"),
    ],
)
def test_bad_queries_are_400_json_naming_the_parameter(client: Any, query: str, named: str) -> None:
    response = client.get(f"{DATA}?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_request"
    assert named in body["message"]


def test_unknown_chart_is_404_json(client: Any) -> None:
    for path in ("/api/charts/nope/data", "/api/charts/nope/data?format=xml"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_found"
        assert "nope" in response.get_json()["message"]


def test_etag_gives_304_until_the_data_changes(app: Any, client: Any) -> None:
    first = client.get(DATA)
    assert first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    again = client.get(DATA, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    as_csv = client.get(DATA, query_string={"format": "csv"})
    assert as_csv.headers["Cache-Control"] == "no-cache"
    assert as_csv.headers["ETag"] != etag
    assert client.get(DATA, query_string={"format": "csv"}, headers={"If-None-Match": as_csv.headers["ETag"]}).status_code == 304
    with app.app_context():
        jobs.redraw("demo")
    changed = client.get(DATA, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json()["version"] == first.get_json()["version"] + 1


def test_before_the_first_render_the_window_is_empty(make_app: Any) -> None:
    app = make_app(LIVECHART_WARM_CACHE=False)
    client = app.test_client()
    body = client.get(DATA).get_json()
    assert (body["rows"], body["total"], body["version"]) == ([], 0, 0)
    assert body["columns"] == ["time", *DEMO["series"]]
    assert client.get(DATA, query_string={"format": "csv"}).get_data(as_text=True) == ",".join(body["columns"]) + "\n"
    with app.app_context():
        jobs.redraw("demo")
    assert values(client.get(DATA).get_json()) == expected(app, renders=1)


def test_cache_unavailable_is_503_json(redis_server: RedisServer, make_app: Any) -> None:
    # redis_server 在 make_app 之前：make_app 收尾时清空缓存，那时 Redis 还在
    app = make_app("production", CACHE_TYPE="RedisCache", CACHE_REDIS_URL=redis_server.url, LIVECHART_SCHEDULER="paused",
                   **CREDENTIALS)  # fmt: skip
    client = app.test_client()
    assert client.get(DATA).status_code == 200
    redis_server.stop()
    try:
        response = client.get(DATA)
        assert response.status_code == 503
        assert response.get_json()["error"] == "unavailable"
        assert response.headers["Retry-After"] == "1"
    finally:
        redis_server.start()


# --- 纯数据代码（livechart/export.py）---


def test_infinities_are_missing_values_too() -> None:
    window = pd.DataFrame(
        {"x": [math.inf, 1.0, -math.inf], "y": [0.5, math.nan, 2.0]},
        index=pd.DatetimeIndex(["2024-01-01 00:00:00", "2024-01-01 00:00:01", "2024-01-01 00:00:02"]),
    )
    table = export.select(window, ["x", "y"], ZoneInfo("UTC"))
    assert [row[1:] for row in export.rows(table)] == [[None, 0.5], [1.0, None], [None, 2.0]]
    assert export.to_csv(table).splitlines()[1:] == [
        "2024-01-01T00:00:00.000000+00:00,,0.5",
        "2024-01-01T00:00:01.000000+00:00,1.0,",
        "2024-01-01T00:00:02.000000+00:00,,2.0",
    ]


def test_daylight_saving_changes_give_offsets_not_errors() -> None:
    """夏令时结束时重复的一小时取较早的一次（+02:00），开始时跳过的时刻前移；都不报错。"""
    berlin = ZoneInfo("Europe/Berlin")
    index = pd.DatetimeIndex(["2026-03-29 02:30", "2026-10-25 01:30", "2026-10-25 02:30", "2026-10-25 03:30"])
    table = export.select(pd.DataFrame({"v": np.arange(4.0)}, index=index), ["v"], berlin)
    assert table.times == [
        "2026-03-29T03:00:00.000000+02:00",
        "2026-10-25T01:30:00.000000+02:00",
        "2026-10-25T02:30:00.000000+02:00",
        "2026-10-25T03:30:00.000000+01:00",
    ]
    # since 不带偏移时按同样的规则理解：02:30 是夏令时的那一次
    since = export.parse_since("2026-10-25T02:30:00", berlin)
    assert since == pd.Timestamp("2026-10-25T00:30:00Z")
    assert export.select(pd.DataFrame({"v": np.arange(4.0)}, index=index), ["v"], berlin, since).times == [table.times[-1]]


# --- 真实的进程：两个 gunicorn 共用一个 Redis ---


def test_every_process_answers_the_same_data_from_redis(tmp_path: Path, redis_server: RedisServer) -> None:
    """渲染的进程（all）与不运行任务的 web 进程回答同样的数据：数据来自 Redis，而不是各进程自己的窗口。

    两个进程都在 UTC+8（TZ=Asia/Shanghai）：时间带 +08:00，不带偏移的 since 按这个时区理解。
    """
    env = {"LIVECHART_REDIS_URL": redis_server.url, "TZ": "Asia/Shanghai"}
    renderer = start_gunicorn(tmp_path, "all", env)
    web = start_gunicorn(tmp_path, "web", {**env, "LIVECHART_ROLE": "web"})
    spec = parse_chart("demo", DEMO)
    interval = float(next(job["seconds"] for job in ProductionE2EConfig.JOBS if job["id"] == "redraw-demo"))

    def agree(path: str) -> tuple[Any, Any] | None:
        a, b = renderer.get(path), web.get(path)
        assert a.status_code == b.status_code == 200, (a.text, b.text)
        same = a.content == b.content and a.headers["ETag"] == b.headers["ETag"]
        return (a, b) if same else None

    try:
        # 图表在运行：两个进程给出同一版本的同样数据，数值正是数据源产生的
        a, _ = wait_for(lambda: agree(DATA), 10, "both processes answer the same data")
        body = a.json()
        assert body["version"] >= 1
        # 重绘先存窗口、再存图片（README 写明）：正在绘制的那几十毫秒里，数据可能比版本号新一个节拍
        version = body["version"]
        assert values(body) in (demo_values(spec, interval, version), demo_values(spec, interval, version + 1))
        assert web.renders("demo") == 0
        # 数据跟着重绘前进，两个进程一起
        wait_for(lambda: web.get(DATA).json()["version"] > body["version"], 5, "the web process sees new data")

        # 暂停后数据不再变化：JSON 与 CSV 在两个进程里逐字节相同，版本号与图片和状态一致
        assert renderer.post("/scheduler/jobs/redraw-demo/pause").status_code == 200
        wait_for(lambda: web.status("demo")["paused"], 3, "the pause reached the web process")

        def settled() -> tuple[Any, Any] | None:
            version = web.status("demo")["version"]
            pair = agree(DATA)
            png = web.get("/charts/demo.png").headers["X-Livechart-Version"]
            if not pair or not pair[0].json()["version"] == version == int(png):
                return None
            # 暂停前开始的最后一次重绘可能还没存好图片：等到数据正是这一版图片所画的
            return pair if values(pair[0].json()) == demo_values(spec, interval, version) else None

        a, _ = wait_for(settled, 5, "data, status and image agree, and the data is what the source produced")
        body = a.json()
        csv_pair = wait_for(lambda: agree(f"{DATA}?format=csv"), 5, "both processes answer the same CSV")
        assert csv_pair[0].headers["X-Livechart-Version"] == str(body["version"])
        lines = list(csv.reader(io.StringIO(csv_pair[0].text)))
        assert lines[0] == body["columns"]
        assert [[line[0], *map(float, line[1:])] for line in lines[1:]] == body["rows"]

        # 时间带 +08:00，且是真实的时刻（与状态里的渲染时间相差不到一分钟，而不是 8 小时）
        assert body["timezone"] == "Asia/Shanghai"
        assert all(row[0].endswith("+08:00") for row in body["rows"])
        rendered_at = datetime.fromisoformat(web.status("demo")["rendered_at"])
        assert abs(datetime.fromisoformat(body["rows"][-1][0]) - rendered_at) < timedelta(minutes=1)
        # 不带偏移的 since 是上海时间
        cut = body["rows"][100][0]
        for since in (cut, cut.removesuffix("+08:00"), datetime.fromisoformat(cut).astimezone(UTC).isoformat()):
            assert web.get(DATA, params={"since": since}).json()["rows"] == body["rows"][101:], since
        # 两个进程对同一个 ETag 都回答 304
        for server in (renderer, web):
            assert server.get(DATA, headers={"If-None-Match": a.headers["ETag"]}).status_code == 304
    finally:
        web.stop()
        renderer.stop()
