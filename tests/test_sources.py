"""数据源：对真实的输入测试——追加和轮转中的 CSV 文件、SQLite 数据库、本地 HTTP 服务器。"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tzlocal import get_localzone

from livechart import sources
from livechart.sources import CsvSource
from livechart.sources import DemoSource
from livechart.sources import HttpJsonSource
from livechart.sources import PythonSource
from livechart.sources import SourceError
from livechart.sources import SqlSource
from livechart.sources import SystemSource
from livechart.sources import normalize
from livechart.window import append_window

# --------------------------------------------------------------- window


def rows(start: int, count: int, value: float = 0.0) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(2026, 1, 1) + pd.Timedelta(seconds=s) for s in range(start, start + count)])
    return pd.DataFrame({"a": [value + i for i in range(count)]}, index=index)


def test_window_is_bounded_by_points() -> None:
    window = None
    for start in range(0, 100, 10):
        window = append_window(window, rows(start, 10), points=25, span=None)
    assert len(window) == 25
    assert window.index[-1] == pd.Timestamp(2026, 1, 1, 0, 1, 39)


def test_window_is_bounded_by_duration() -> None:
    window = append_window(None, rows(0, 600), points=100_000, span=60)
    assert window.index[-1] - window.index[0] < pd.Timedelta(seconds=60)
    assert len(window) == 60


def test_window_sorts_and_keeps_the_newest_value_of_a_repeated_time() -> None:
    window = append_window(rows(10, 5), rows(0, 12, value=100), points=100, span=None)
    assert window.index.is_monotonic_increasing and not window.index.has_duplicates
    assert window.loc[pd.Timestamp(2026, 1, 1, 0, 0, 11), "a"] == 111


# --------------------------------------------------------------- system


@pytest.mark.parametrize("metric", list(SystemSource.METRICS))
def test_system_metric(metric: str) -> None:
    source = SystemSource([metric])
    time.sleep(0.01)
    frame = source.fetch()
    assert list(frame.columns) == list(SystemSource.METRICS[metric])
    assert len(frame) == 1
    values = frame.iloc[0]
    assert (values.dropna() >= 0).all()
    if metric in ("cpu", "cpu_cores", "memory", "swap"):
        assert (values <= 100).all()


def test_rates_are_correct_across_counter_resets() -> None:
    """吞吐量来自计数差；计数器被重置（变小）时输出缺口（NaN），而不是负的或巨大的假速率。"""
    readings = iter([{"net_sent": 1000.0}, {"net_sent": 3000.0}, {"net_sent": 500.0}, {"net_sent": 1500.0}])
    clock = iter([100.0, 102.0, 104.0, 105.0])
    source = SystemSource(["net"], counters=lambda: next(readings))
    source.previous = (next(clock), source.previous[1])  # 基准：t=100 时 1000 字节
    moments = iter(clock)
    original = time.monotonic
    try:
        time.monotonic = lambda: next(moments)  # type: ignore[assignment]
        first = source._rates()
        reset = source._rates()
        after = source._rates()
    finally:
        time.monotonic = original  # type: ignore[assignment]
    assert first["net_sent"] == pytest.approx(1000.0)  # 2000 字节 / 2 秒
    assert math.isnan(reset["net_sent"])
    assert after["net_sent"] == pytest.approx(1000.0)  # 重置后从新的基准继续


# --------------------------------------------------------------- csv


def write(path: Path, text: str, mode: str = "a") -> None:
    with open(path, mode) as handle:
        handle.write(text)


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "metrics.csv"
    write(path, "time,temp,humidity\n2026-01-01T00:00:00,20.5,40\n2026-01-01T00:00:01,20.6,41\n", "w")
    return path


@pytest.fixture(autouse=True)
def close_sources(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """CSV 数据源跨多次 fetch 保持文件打开（为了跟住轮转）：测试结束时全部关闭。"""
    opened: list[sources.Source] = []
    original = CsvSource.__init__

    def init(self: CsvSource, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(CsvSource, "__init__", init)
    yield
    for source in opened:
        source.close()


def csv_source(path: Path) -> CsvSource:
    params = CsvSource.validate({"path": str(path), "time": "time", "columns": ["temp", "humidity"]})
    return CsvSource(**params)


def test_csv_reads_only_new_lines(csv_file: Path) -> None:
    source = csv_source(csv_file)
    first = source.fetch()
    assert list(first["temp"]) == [20.5, 20.6]
    assert source.fetch().empty
    write(csv_file, "2026-01-01T00:00:02,20.7,42\n")
    new = source.fetch()
    assert list(new["temp"]) == [20.7]
    assert new.index[0] == pd.Timestamp("2026-01-01T00:00:02")


def test_csv_waits_for_a_partial_line(csv_file: Path) -> None:
    source = csv_source(csv_file)
    source.fetch()
    write(csv_file, "2026-01-01T00:00:02,2")
    assert source.fetch().empty
    write(csv_file, "1.5,43\n")
    assert list(source.fetch()["temp"]) == [21.5]


def test_csv_skips_and_counts_malformed_rows(csv_file: Path) -> None:
    source = csv_source(csv_file)
    source.fetch()
    write(
        csv_file, "garbage\nnot-a-time,1,2\n2026-01-01T00:00:03,abc,def\n2026-01-01T00:00:04,1,2,3\n2026-01-01T00:00:05,22,44\n"
    )
    frame = source.fetch()
    assert list(frame["temp"]) == [22.0]
    assert source.malformed == 4


def test_csv_survives_truncation(csv_file: Path) -> None:
    source = csv_source(csv_file)
    source.fetch()
    write(csv_file, "time,temp,humidity\n2026-01-02T00:00:00,5,50\n", "w")
    assert list(source.fetch()["temp"]) == [5.0]


def test_csv_survives_rotation_without_losing_lines(csv_file: Path) -> None:
    """轮转（改名后新建）：旧文件最后追加的行和新文件的行都不丢。"""
    source = csv_source(csv_file)
    source.fetch()
    write(csv_file, "2026-01-01T00:00:02,20.7,42\n")
    os.rename(csv_file, csv_file.with_suffix(".csv.1"))
    assert source.fetch()["temp"].tolist() == [20.7]  # 新文件还没建好
    write(csv_file.with_suffix(".csv.1"), "2026-01-01T00:00:03,20.8,43\n")
    write(csv_file, "time,temp,humidity\n2026-01-01T00:00:04,20.9,44\n", "w")
    assert source.fetch()["temp"].tolist() == [20.8, 20.9]
    write(csv_file, "2026-01-01T00:00:05,21.0,45\n")
    assert source.fetch()["temp"].tolist() == [21.0]


def test_csv_appended_by_another_process_while_reading(csv_file: Path) -> None:
    """另一个线程边写边轮转；读到的行不重复、不丢失、按顺序。"""
    source = csv_source(csv_file)
    seen = list(source.fetch()["temp"])
    done = threading.Event()

    def writer() -> None:
        for i in range(200):
            write(csv_file, f"2026-01-01T01:00:00,{i},0\n".replace("01:00:00", f"01:{i // 60:02d}:{i % 60:02d}"))
            if i == 100:
                os.rename(csv_file, csv_file.with_suffix(".old"))
                write(csv_file, "time,temp,humidity\n", "w")
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    while not done.is_set():
        seen += list(source.fetch()["temp"])
    thread.join()
    seen += list(source.fetch()["temp"])
    assert seen == [20.5, 20.6, *map(float, range(200))]


def test_csv_large_file_starts_near_the_end(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    lines = "".join(f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d},{i},0\n" for i in range(3000))
    write(path, "time,temp,humidity\n" + lines, "w")
    params = CsvSource.validate({"path": str(path), "time": "time", "columns": ["temp"], "initial_bytes": 1000})
    frame = CsvSource(**params).fetch()
    assert 0 < len(frame) < 100
    assert frame["temp"].iloc[-1] == 2999


def test_csv_epoch_and_timezone_times(tmp_path: Path) -> None:
    path = tmp_path / "epoch.csv"
    write(path, "ts;value\n1767225600;1\n", "w")
    frame = CsvSource(**CsvSource.validate({"path": str(path), "time": "ts", "columns": ["value"], "delimiter": ";"})).fetch()
    expected = pd.Timestamp(1767225600, unit="s", tz="UTC").tz_convert(get_localzone()).tz_localize(None)
    assert frame.index[0] == expected


def test_csv_missing_column_is_an_error(csv_file: Path) -> None:
    params = CsvSource.validate({"path": str(csv_file), "time": "time", "columns": ["pressure"]})
    with pytest.raises(ValueError, match="no column 'pressure'"):
        CsvSource(**params).fetch()


# --------------------------------------------------------------- sql


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "metrics.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE readings (at TIMESTAMP, temp REAL, rpm REAL)")
        connection.executemany(
            "INSERT INTO readings VALUES (?, ?, ?)",
            [("2026-01-01 00:00:00", 20.0, 1000), ("2026-01-01 00:00:01", 21.0, 1100)],
        )
    return path


def sql_source(path: Path, query: str, **extra: Any) -> SqlSource:
    raw = {"url": f"sqlite:///{path}", "query": query, "time": "at", "columns": ["temp", "rpm"], **extra}
    return SqlSource(**SqlSource.validate(raw))


def test_sql_incremental_with_since(database: Path) -> None:
    source = sql_source(database, "SELECT at, temp, rpm FROM readings WHERE at > :since ORDER BY at")
    first = source.fetch()
    assert first["temp"].tolist() == [20.0, 21.0]
    assert source.fetch().empty
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO readings VALUES ('2026-01-01 00:00:02', 22.0, 1200)")
    assert source.fetch()["rpm"].tolist() == [1200.0]
    source.close()


def test_sql_without_since_reads_the_whole_result(database: Path) -> None:
    source = sql_source(database, "SELECT at, temp, rpm FROM readings")
    assert len(source.fetch()) == 2
    assert len(source.fetch()) == 2
    source.close()


def test_sql_statement_timeout(database: Path) -> None:
    slow = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
        "SELECT '2026-01-01' AS at, count(*) AS temp, 0 AS rpm FROM n"
    )
    source = sql_source(database, slow, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(Exception, match="interrupted"):
        source.fetch()
    assert time.monotonic() - started < 5
    source.close()


def test_sql_pool_is_reused(database: Path) -> None:
    source = sql_source(database, "SELECT at, temp, rpm FROM readings")
    engine = source.engine
    for _ in range(5):
        source.fetch()
    assert source.engine is engine
    assert engine.pool.checkedout() == 0
    source.close()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"url": "sqlite:////no/such/file.db", "query": "SELECT 1", "time": "t", "columns": ["v"]}, "does not exist"),
        ({"url": "not a url", "query": "SELECT 1", "time": "t", "columns": ["v"]}, "not a SQLAlchemy URL"),
        ({"url": "sqlite://", "query": "", "time": "t", "columns": ["v"]}, "'query' must be a SQL string"),
        ({"url": "sqlite://", "query": "SELECT 1", "time": "t", "columns": []}, "'columns' must be a non-empty list"),
        ({"url": "sqlite://", "query": "SELECT 1", "time": "t", "columns": ["v"], "timeout": 0}, "'timeout'"),
        ({"url": "sqlite://", "query": "SELECT 1"}, "'columns' is required"),
    ],
)
def test_sql_validation(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        SqlSource.validate(raw)


# --------------------------------------------------------------- http_json


class JsonHandler(BaseHTTPRequestHandler):
    """本地 JSON 接口：/ok 返回数据，/slow 慢速，/broken 返回 500。"""

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(2)
        status = 500 if self.path == "/broken" else 200
        body = json.dumps({"data": {"items": [{"v": 1.5}, {"v": 2.5}], "at": "2026-01-01T08:00:00+08:00"}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def json_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), JsonHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def http_source(url: str, **extra: Any) -> HttpJsonSource:
    return HttpJsonSource(
        **HttpJsonSource.validate({"url": url, "values": {"a": "data.items.0.v", "b": "data.items.1.v"}, **extra})
    )


def test_http_json_picks_values(json_server: str) -> None:
    frame = http_source(json_server + "/ok", time="data.at").fetch()
    assert frame.iloc[0].to_dict() == {"a": 1.5, "b": 2.5}
    expected = pd.Timestamp("2026-01-01T00:00:00", tz="UTC").tz_convert(get_localzone()).tz_localize(None)
    assert frame.index[0] == expected


def test_http_json_timeout(json_server: str) -> None:
    import requests

    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        http_source(json_server + "/slow", timeout=0.2).fetch()
    assert time.monotonic() - started < 1.5


def test_http_json_errors(json_server: str) -> None:
    import requests

    with pytest.raises(requests.HTTPError):
        http_source(json_server + "/broken").fetch()
    bad_path = HttpJsonSource(**HttpJsonSource.validate({"url": json_server + "/ok", "values": {"a": "data.items.7.v"}}))
    with pytest.raises(KeyError, match="no item '7'"):
        bad_path.fetch()


# --------------------------------------------------------------- python


def returns_dict() -> dict[str, float]:
    return {"x": 1.0, "y": 2.0}


def returns_series() -> pd.Series:
    return pd.Series({"x": 3.0, "y": 4.0})


def returns_time_series() -> pd.Series:
    return pd.Series([1.0, 2.0], index=pd.date_range("2026-01-01", periods=2, freq="s"), name="x")


def returns_frame(scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"time": ["2026-01-01 00:00:00", "2026-01-01 00:00:01"], "x": [scale, 2 * scale]})


def returns_nonsense() -> str:
    return "nope"


@pytest.mark.parametrize(
    ("function", "kwargs", "expected"),
    [
        ("returns_dict", {}, {"x": [1.0], "y": [2.0]}),
        ("returns_series", {}, {"x": [3.0], "y": [4.0]}),
        ("returns_time_series", {}, {"x": [1.0, 2.0]}),
        ("returns_frame", {"scale": 10}, {"x": [10.0, 20.0]}),
    ],
)
def test_python_source(function: str, kwargs: dict[str, Any], expected: dict[str, list[float]]) -> None:
    kind, params = normalize({"type": f"tests.test_sources:{function}", **kwargs})
    assert kind == "python"
    frame = sources.make_source(kind, params).fetch()
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert {c: frame[c].tolist() for c in frame.columns} == expected


def test_python_source_rejects_other_results() -> None:
    source = PythonSource(**PythonSource.validate({"callable": "tests.test_sources:returns_nonsense"}))
    with pytest.raises(TypeError, match="got str"):
        source.fetch()


# --------------------------------------------------------------- demo


def test_demo_is_deterministic_for_a_seed() -> None:
    a, b, c = DemoSource(seed=7), DemoSource(seed=7), DemoSource(seed=8)
    first = pd.concat([a.fetch() for _ in range(20)])
    second = pd.concat([b.fetch() for _ in range(20)])
    other = pd.concat([c.fetch() for _ in range(20)])
    assert np.array_equal(first.to_numpy(), second.to_numpy())
    assert not np.array_equal(first.to_numpy(), other.to_numpy())


def test_demo_backfill() -> None:
    frame = DemoSource(seed=1).backfill(50, step=2)
    assert len(frame) == 50
    assert (np.diff(frame.index.to_numpy()) == np.timedelta64(2, "s")).all()


# --------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "ftp"}, "unknown source type 'ftp'"),
        ({"type": "system", "metrics": ["gpu"]}, "unknown system metric 'gpu'"),
        ({"type": "system", "interval": 1}, "unknown source option 'interval'"),
        ({"type": "csv", "path": "/no/such.csv", "time": "t", "columns": ["v"]}, "does not exist"),
        ({"type": "csv", "path": "/etc/hostname", "time": "t"}, "'columns' is required"),
        ({"type": "http_json", "url": "ftp://x", "values": {"a": "b"}}, "http:// or https://"),
        ({"type": "http_json", "url": "http://x", "values": {}}, "'values' must map"),
        ({"type": "python", "callable": "nosuch.module:f"}, "cannot import"),
        ({"type": "python", "callable": "tests.test_sources:JsonHandler.x"}, "cannot import"),
        ({"type": "nosuch.module:f"}, "cannot import"),
        ({"type": "demo", "seed": 1.5}, "'seed' must be a whole number"),
    ],
)
def test_source_validation(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        normalize(raw)


# --------------------------------------------------------------- PostgreSQL


def test_sql_on_postgresql(postgres_url: str) -> None:
    """同一个 SQL 数据源连接真实的 PostgreSQL：增量查询与语句超时（statement_timeout）。"""
    from sqlalchemy import create_engine
    from sqlalchemy import text

    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS readings"))
        connection.execute(text("CREATE TABLE readings (at timestamptz, temp double precision, rpm integer)"))
        connection.execute(
            text("INSERT INTO readings VALUES ('2026-01-01T00:00:00+00', 20, 1000), ('2026-01-01T00:00:01+00', 21, 1100)")
        )
    query = "SELECT at, temp, rpm FROM readings WHERE at > :since ORDER BY at"
    source = SqlSource(**SqlSource.validate({"url": postgres_url, "query": query, "time": "at", "columns": ["temp", "rpm"]}))
    first = source.fetch()
    assert first["temp"].tolist() == [20.0, 21.0]
    expected = pd.Timestamp("2026-01-01T00:00:00", tz="UTC").tz_convert(get_localzone()).tz_localize(None)
    assert first.index[0] == expected
    assert source.fetch().empty
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO readings VALUES ('2026-01-01T00:00:02+00', 22, 1200)"))
    assert source.fetch()["rpm"].tolist() == [1200.0]
    source.close()

    slow = "SELECT now() AS at, pg_sleep(5)::text AS temp, 0 AS rpm"
    hung = SqlSource(
        **SqlSource.validate({"url": postgres_url, "query": slow, "time": "at", "columns": ["temp", "rpm"], "timeout": 0.5})
    )
    started = time.monotonic()
    with pytest.raises(Exception, match="statement timeout"):
        hung.fetch()
    assert time.monotonic() - started < 4
    hung.close()
    engine.dispose()
