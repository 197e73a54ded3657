"""数据源：对真实的输入测试——追加和轮转中的 CSV 文件、SQLite 数据库、本地 HTTP 服务器。"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest
from tzlocal import get_localzone

from livechart import history
from livechart import sources
from livechart.sources import CsvSource
from livechart.sources import DemoSource
from livechart.sources import HttpJsonSource
from livechart.sources import InputUnavailable
from livechart.sources import PythonSource
from livechart.sources import SourceError
from livechart.sources import SqlSource
from livechart.sources import SystemSource
from livechart.sources import normalize
from livechart.spec import parse_chart
from livechart.window import append_window
from tests.conftest import free_port
from tests.conftest import wait_for

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


# 一个核在整台机器中所占的百分比（2 核的机器上一个忙碌的核 ≈ 50 %）
ONE_CORE = 100 / (psutil.cpu_count() or 1)
# 有界的忙循环：即使测试进程意外退出，它最多也只跑这么久
BUSY_LOOP = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end:\n    pass\n"


@pytest.fixture
def busy_core() -> Iterator[psutil.Process]:
    """一个占满一个核的真实子进程（Python 忙循环）；测试结束时结束它。"""
    process = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    busy = psutil.Process(process.pid)
    try:
        # 等它真的在跑：已经用掉 0.2 秒 CPU（解释器启动之后）
        wait_for(lambda: busy.cpu_times().user > 0.2, 30, "the busy loop did not start")
        yield busy
    finally:
        process.kill()
        process.wait(10)


@pytest.mark.usefixtures("busy_core")
def test_default_cpu_chart_records_real_first_points(make_app: Any) -> None:
    """默认配置的 cpu 图表：启动预热画的第一个点、随后在请求线程里 POST …/run 画的点，都反映那个忙碌的核。

    问题 9 测到的是：预热后第一次 POST /scheduler/jobs/redraw-cpu/run 记下了 0.0 %。
    （放在本文件其他 CPU 测试之前：旧的 psutil.cpu_percent(None) 按线程号保存基准，线程号会被新线程复用。）
    """
    app = make_app()
    client = app.test_client()
    with app.app_context():
        warmed = history.load("cpu")
    assert len(warmed) == 1 and warmed["cpu"].iloc[0] >= 0.6 * ONE_CORE, warmed
    # 真实服务里每个请求在自己的线程里处理
    with ThreadPoolExecutor(1, thread_name_prefix="request") as request_thread:
        ran = request_thread.submit(client.post, "/scheduler/jobs/redraw-cpu/run", headers={"Content-Type": "application/json"})
        assert ran.result(30).status_code == 200
    with app.app_context():
        window = history.load("cpu")
    assert len(window) == 2 and window["cpu"].iloc[-1] >= 0.6 * ONE_CORE, window


@pytest.mark.usefixtures("busy_core")
def test_first_cpu_reading_is_real() -> None:
    """构造后紧接着在另一个线程里读（如同启动时的预热）：第一个点就反映一个核的忙碌，不是 0。"""
    source = SystemSource(["cpu", "cpu_cores"])
    with ThreadPoolExecutor(1, thread_name_prefix="warm") as warm:
        row = warm.submit(source.fetch).result(30).iloc[0]
    assert 0.6 * ONE_CORE <= row["cpu"] <= 100, row.to_dict()
    cores = [row[c] for c in SystemSource.METRICS["cpu_cores"]]
    assert all(0 <= v <= 100 for v in cores), cores
    # 每核的平均值与总计是同一段时间的同一种算法
    assert abs(sum(cores) / len(cores) - row["cpu"]) <= 5, row.to_dict()


@pytest.mark.usefixtures("busy_core")
def test_cpu_does_not_depend_on_the_reading_thread() -> None:
    """两个图表的数据源在调度器的不同线程里读同一秒：读数一致，并与 psutil 阻塞式测得的同一秒一致。

    调度器线程池里一个线程常常紧接着重绘两个图表，下一个节拍各图表又落在别的线程上。psutil.cpu_percent(None)
    的基准按线程保存：线程里刚有别的代码调用过它，读到的就是那之后几微秒的 0 或 100（docs/pitfalls.md 第 18 条）。
    """

    def after_another_reader() -> pd.DataFrame:
        # 别的代码（另一个图表、某个库）刚在这个线程里读过 psutil 的 CPU 使用率
        psutil.cpu_percent(interval=None)
        return b.fetch()

    a, b = SystemSource(["cpu"]), SystemSource(["cpu"])
    with ThreadPoolExecutor(1, thread_name_prefix="first") as first, ThreadPoolExecutor(1, thread_name_prefix="second") as second:
        # 一个节拍：同一个线程先后读两个数据源
        first.submit(a.fetch).result(30)
        first.submit(b.fetch).result(30)
        # 参照：psutil 阻塞式测量（与线程无关），覆盖接下来的这一秒
        reference = psutil.cpu_percent(interval=1)
        # 下一个节拍：两个数据源在不同的线程里同时读
        on_first, on_second = first.submit(a.fetch), second.submit(after_another_reader)
        value_a, value_b = on_first.result(30)["cpu"].iloc[0], on_second.result(30)["cpu"].iloc[0]
    assert abs(value_a - value_b) <= 5, (value_a, value_b)
    assert abs(value_a - reference) <= 5, (value_a, reference)
    assert min(value_a, value_b) >= 0.6 * ONE_CORE, (value_a, value_b)


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
    """格式错误的行跳过；stats() 报告累计的个数（给图表的状态显示）。"""
    source = csv_source(csv_file)
    source.fetch()
    assert source.stats() == {"malformed_rows": 0}
    write(
        csv_file, "garbage\nnot-a-time,1,2\n2026-01-01T00:00:03,abc,def\n2026-01-01T00:00:04,1,2,3\n2026-01-01T00:00:05,22,44\n"
    )
    frame = source.fetch()
    assert list(frame["temp"]) == [22.0]
    assert source.stats() == {"malformed_rows": 4}
    write(csv_file, "2026-01-01T00:00:06,23,45\nbroken\n")
    assert list(source.fetch()["temp"]) == [23.0]
    assert source.stats() == {"malformed_rows": 5}


def test_sources_without_counters_report_none() -> None:
    """没有自己计数的数据源：stats() 是空字典（状态里什么都不显示）。"""
    assert DemoSource(seed=1).stats() == {}
    assert SystemSource(["memory"]).stats() == {}
    assert PythonSource("tests.flaky_source:reading", {"flag": ""}).stats() == {}


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


def test_csv_file_that_does_not_exist_yet(tmp_path: Path) -> None:
    """文件还不存在不是配置错误：取数时报 InputUnavailable（指明路径），文件出现后的下一次取数就读到它。"""
    path = tmp_path / "later.csv"
    source = csv_source(path)
    for _ in range(2):
        with pytest.raises(InputUnavailable, match=re.escape(repr(str(path)))):
            source.fetch()
    write(path, "time,temp,humidity\n2026-01-01T00:00:00,20.5,40\n", "w")
    assert source.fetch()["temp"].tolist() == [20.5]
    write(path, "2026-01-01T00:00:01,20.6,41\n")
    assert source.fetch()["temp"].tolist() == [20.6]


def test_csv_file_that_is_deleted_is_reported_and_read_again_when_it_comes_back(csv_file: Path) -> None:
    """删掉的文件不是轮转的间隙：短暂的宽限之后报告“已删除，等待它”（而不是一直悄悄地读旧文件），新文件出现后从头读。"""
    source = csv_source(csv_file)
    assert source.fetch()["temp"].tolist() == [20.5, 20.6]
    write(csv_file, "2026-01-01T00:00:02,20.7,42\n")
    os.remove(csv_file)
    # 删除之前追加的行照样读到（宽限之内按轮转的间隙处理）
    assert source.fetch()["temp"].tolist() == [20.7]

    def reported() -> str | None:
        try:
            source.fetch()
        except InputUnavailable as exc:
            return str(exc)
        return None

    message = wait_for(reported, 10, "a deleted CSV file was never reported")
    assert message == f"CSV 文件 {str(csv_file)!r} 被删除了；等它重新出现"
    # 旧文件已经关掉；仍然不在时消息不变
    assert source.handle is None
    with pytest.raises(InputUnavailable, match="被删除了；等它重新出现"):
        source.fetch()
    write(csv_file, "time,temp,humidity\n2026-01-01T00:00:10,30.0,50\n", "w")
    assert source.fetch()["temp"].tolist() == [30.0]
    write(csv_file, "2026-01-01T00:00:11,31.0,51\n")
    assert source.fetch()["temp"].tolist() == [31.0]


def test_csv_file_moved_away_without_a_new_one_is_reported(csv_file: Path) -> None:
    """改名移走、却一直没有新文件：宽限之后同样报告在等文件（消息说是被移走了）。"""
    source = csv_source(csv_file)
    source.fetch()
    os.rename(csv_file, csv_file.with_suffix(".csv.1"))
    assert source.fetch().empty

    def reported() -> str | None:
        try:
            source.fetch()
        except InputUnavailable as exc:
            return str(exc)
        return None

    message = wait_for(reported, 10, "a CSV file moved away was never reported")
    assert message == f"CSV 文件 {str(csv_file)!r} 被移走了，原处也没有新文件；等它重新出现"


def test_csv_missing_column_is_an_error(csv_file: Path) -> None:
    params = CsvSource.validate({"path": str(csv_file), "time": "time", "columns": ["pressure"]})
    with pytest.raises(ValueError, match="没有列 'pressure'（表头：time, temp, humidity）"):
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


def test_sql_since_never_passes_now(database: Path) -> None:
    """一行 2099 年的数据（写入方的时钟错了）不能把 :since 推过之后写入的所有真实数据。"""
    source = sql_source(database, "SELECT at, temp, rpm FROM readings WHERE at > :since ORDER BY at")
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO readings VALUES ('2099-01-01 00:00:00', 99.0, 9900)")
    first = source.fetch()
    assert first["temp"].tolist() == [20.0, 21.0, 99.0]  # 丢弃并计数是重绘任务的事（livechart/quality.py）
    assert source.since is not None and source.since <= pd.Timestamp.now()
    later = str(pd.Timestamp.now().floor("s"))
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO readings VALUES (?, 22.0, 1200)", (later,))
    assert source.fetch()["temp"].tolist() == [22.0, 99.0]
    assert source.since == pd.Timestamp(later)
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


def test_sqlite_database_that_does_not_exist_yet_is_not_created(tmp_path: Path) -> None:
    """库文件还不存在：取数时报 InputUnavailable（指明路径），而且不会建出一个空库；库出现后照常读取。"""
    path = tmp_path / "later.db"
    source = sql_source(path, "SELECT at, temp, rpm FROM readings WHERE at > :since ORDER BY at")
    for _ in range(2):
        with pytest.raises(InputUnavailable, match=re.escape(repr(str(path)))):
            source.fetch()
    assert not path.exists()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE readings (at TIMESTAMP, temp REAL, rpm REAL)")
        connection.execute("INSERT INTO readings VALUES ('2026-01-01 00:00:00', 20.0, 1000)")
    connection.close()
    assert source.fetch()["temp"].tolist() == [20.0]
    source.close()


def test_sqlite_is_opened_read_only(database: Path) -> None:
    """SQLite 以只读方式打开：写入语句被 SQLite 拒绝，库里的数据不变。"""
    source = sql_source(database, "UPDATE readings SET temp = 0 RETURNING at, temp, rpm")
    with pytest.raises(Exception, match="readonly database"):
        source.fetch()
    source.close()
    with sqlite3.connect(database) as connection:
        assert [row[0] for row in connection.execute("SELECT temp FROM readings ORDER BY at")] == [20.0, 21.0]
    connection.close()


def test_sqlite_path_with_special_characters(tmp_path: Path) -> None:
    """只读 URI 里的路径经过转义：空格、#、% 都能用（URL 里的 % 按 SQLAlchemy 的规则写成 %25）。"""
    folder = tmp_path / "a b#c%d"
    folder.mkdir()
    path = folder / "x.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE readings (at TIMESTAMP, temp REAL, rpm REAL)")
        connection.execute("INSERT INTO readings VALUES ('2026-01-01 00:00:00', 20.0, 1000)")
    connection.close()
    url = f"sqlite:///{str(path).replace('%', '%25')}"
    raw = {"url": url, "query": "SELECT at, temp, rpm FROM readings", "time": "at", "columns": ["temp", "rpm"]}
    source = SqlSource(**SqlSource.validate(raw))
    assert source.fetch()["rpm"].tolist() == [1000.0]
    source.close()


def test_database_server_refusing_connections() -> None:
    """数据库服务器拒绝连接（端口上没有服务）：InputUnavailable 指明主机和端口，不带密码和查询参数。"""
    port = free_port()
    url = f"postgresql+psycopg://reader:hunter2@127.0.0.1:{port}/metrics?application_name=key-7f3a"
    raw = {"url": url, "query": "SELECT now() AS at, 1 AS v", "time": "at", "columns": ["v"], "timeout": 2}
    source = SqlSource(**SqlSource.validate(raw))
    with pytest.raises(InputUnavailable) as caught:
        source.fetch()
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "refused" in message.lower(), message
    assert "hunter2" not in message and "key-7f3a" not in message and "reader" not in message, message
    source.close()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"url": "not a url", "query": "SELECT 1", "time": "t", "columns": ["v"]}, "数据源参数 'url' 不是 SQLAlchemy URL"),
        ({"url": "sqlite://", "query": "", "time": "t", "columns": ["v"]}, "数据源参数 'query' 必须是 SQL 字符串"),
        ({"url": "sqlite://", "query": "SELECT 1", "time": "t", "columns": []}, "数据源参数 'columns' 必须是非空的列名列表"),
        (
            {"url": "sqlite://", "query": "SELECT 1", "time": "t", "columns": ["v"], "timeout": 0},
            "数据源参数 'timeout' 必须是大于 0、不超过 3600 的数，收到 0",
        ),
        ({"url": "sqlite://", "query": "SELECT 1"}, "缺少数据源参数 'columns'"),
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
    with pytest.raises(KeyError, match=r"路径 'data\.items\.7\.v'：没有第 '7' 项"):
        bad_path.fetch()


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "no-such-host.invalid"])
def test_http_source_that_is_down(host: str) -> None:
    """服务没有启动（拒绝连接）或主机名不存在：InputUnavailable 指明主机，不带路径和查询参数（可能有密钥）。"""
    host = host.format(port=free_port())
    with pytest.raises(InputUnavailable) as caught:
        http_source(f"http://user:pw@{host}/metrics?token=s3cr3t", timeout=2).fetch()
    message = str(caught.value)
    assert f"http://{host} " in message, message
    assert "s3cr3t" not in message and "/metrics" not in message and "pw" not in message, message


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
    with pytest.raises(TypeError, match="python 数据源必须返回 DataFrame、字典或 Series，收到的是 str"):
        source.fetch()


def test_python_source_missing_series_column() -> None:
    """函数的结果缺少图表要画的列：取数（预热）时就报错，指明缺的列和函数实际返回的列。"""
    spec = parse_chart("py", {"title": "t", "source": {"type": "tests.test_sources:returns_dict"}, "series": ["x", "z"]})
    source = sources.make_source(spec.source_type, spec.source_params)
    with pytest.raises(ValueError, match=re.escape("python 数据源的结果里没有列 'z'（它返回的列：x, y）")):
        source.fetch()
    ok = parse_chart("py", {"title": "t", "source": {"type": "tests.test_sources:returns_frame"}, "series": ["x"]})
    assert sources.make_source(ok.source_type, ok.source_params).fetch()["x"].tolist() == [1.0, 2.0]


def returns_nothing(kind: str) -> Any:
    return {"frame": pd.DataFrame(), "dict": {}, "series": pd.Series([], index=pd.DatetimeIndex([]), dtype=float)}[kind]


@pytest.mark.parametrize("kind", ["frame", "dict", "series"])
def test_python_source_without_new_rows(kind: str) -> None:
    """没有行的结果是“没有新数据”，不是缺列。"""
    raw = {"callable": "tests.test_sources:returns_nothing", "kwargs": {"kind": kind}, "columns": ["x"]}
    frame = PythonSource(**PythonSource.validate(raw)).fetch()
    assert frame.empty and list(frame.columns) == ["x"]


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
        ({"type": "ftp"}, "不认识的数据源类型 'ftp'"),
        ({"type": "system", "metrics": ["gpu"]}, "不认识的本机指标 'gpu'"),
        ({"type": "system", "interval": 1}, "不认识的数据源参数 'interval'"),
        ({"type": "csv", "path": "/etc", "time": "t", "columns": ["v"]}, "数据源参数 'path'：'/etc' 是目录"),
        ({"type": "csv", "path": "/etc/hostname", "time": "t"}, "缺少数据源参数 'columns'"),
        ({"type": "http_json", "url": "ftp://x", "values": {"a": "b"}}, "数据源参数 'url' 必须是 http:// 或 https:// 开头"),
        ({"type": "http_json", "url": "http://x", "values": {}}, "数据源参数 'values' 必须是从列名到 JSON 路径"),
        ({"type": "python", "callable": "nosuch.module:f"}, "数据源参数 'callable'：无法导入 'nosuch.module:f'"),
        ({"type": "python", "callable": "tests.test_sources:JsonHandler.x"}, "无法导入 'tests.test_sources:JsonHandler.x'"),
        ({"type": "nosuch.module:f"}, "无法导入 'nosuch.module:f'"),
        ({"type": "demo", "seed": 1.5}, "数据源参数 'seed' 必须是 0 到 4294967295 之间的整数，收到 1.5"),
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


def test_database_server_errors_are_not_input_unavailable(postgres_url: str) -> None:
    """服务器回应了的错误（这里是库不存在）是配置问题，照常报错，不当作“输入还不在”。"""
    url = postgres_url.rsplit("/", 1)[0] + "/nosuchdb"
    source = SqlSource(**SqlSource.validate({"url": url, "query": "SELECT now() AS at, 1 AS v", "time": "at", "columns": ["v"]}))
    with pytest.raises(Exception, match="nosuchdb") as caught:
        source.fetch()
    assert not isinstance(caught.value, InputUnavailable)
    source.close()
