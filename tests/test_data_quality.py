"""数据质量：来自未来的行、超出范围的值、被删掉的 CSV 文件——图表照样画真实数据，状态说明发生了什么。"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest

from livechart import ConfigError
from livechart import history
from livechart import jobs
from tests.conftest import Server
from tests.conftest import built_in
from tests.conftest import start_server
from tests.conftest import wait_for

# huge() 的行固定在这些时刻（过去）：每次返回同样的行，窗口里的行数不变
START = pd.Timestamp("2020-01-01 12:00:00")
FAR_AHEAD = pd.Timestamp("2262-01-01")


def ahead() -> pd.DataFrame:
    """python 数据源：一行现在的数据，和一行 2262 年的（时间戳快到 pandas 的上限）。"""
    return pd.DataFrame({"time": [pd.Timestamp.now(), FAR_AHEAD], "v": [1.0, 999.0]})


def huge() -> pd.DataFrame:
    """python 数据源：正常的值中夹着 1e308、-inf 和 -1e308。"""
    times = [START - pd.Timedelta(seconds=s) for s in (5, 4, 3, 2, 1, 0)]
    return pd.DataFrame({"v": [20.0, 1e308, 21.0, -np.inf, 22.0, -1e308]}, index=pd.DatetimeIndex(times))


def job(chart: str) -> dict[str, Any]:
    return {"id": f"redraw-{chart}", "func": "livechart.jobs:redraw", "kwargs": {"chart": chart}, "trigger": "interval",
            "seconds": 60}  # fmt: skip


def chart_app(make_app: Any, name: str, function: str, **overrides: Any) -> Any:
    charts = {name: {"title": name, "source": {"type": f"tests.test_data_quality:{function}"}, "series": ["v"], "window": "60s"}}
    return make_app("testing", CHARTS=charts, JOBS=[job(name)], **overrides)


def warnings_of(client: Any, name: str) -> dict[str, dict[str, Any]]:
    status = client.get(f"/api/charts/{name}").get_json()
    return {warning["code"]: warning for warning in status["data_warnings"]}


def test_python_rows_from_the_future_are_dropped_and_counted_once(make_app: Any, caplog: pytest.LogCaptureFixture) -> None:
    """一行 2262 年的数据不进窗口：60 秒的窗口照样是现在的数据，x 轴也在现在；状态里计数（同一时刻只计一次），日志只有一行。"""
    with caplog.at_level(logging.WARNING, logger="livechart"):
        app = chart_app(make_app, "ahead", "ahead")  # 启动时预热画了第一次
        client = app.test_client()
        for _ in range(3):
            assert client.post("/scheduler/jobs/redraw-ahead/run", json={}).status_code == 200
    redrawer = jobs.redrawers(app)["ahead"]
    window = redrawer.window
    assert len(window) == 4 and window["v"].tolist() == [1.0] * 4, window
    assert window.index[-1] <= pd.Timestamp.now()
    right = mdates.num2date(built_in(redrawer.renderer).axes.get_xlim()[1]).replace(tzinfo=None)
    assert abs(pd.Timestamp(right) - pd.Timestamp.now()) < pd.Timedelta(minutes=1)
    status = client.get("/api/charts/ahead").get_json()
    assert status["last_error"] is None and status["version"] == 4, status
    future = warnings_of(client, "ahead")["future_rows"]
    assert future["count"] == 1 and future["row_time"] == "2262-01-01T00:00:00", future
    assert future["message"] == (
        "丢弃了 1 行时间比服务器时钟晚 5 分钟以上的数据（最晚的一行：2262-01-01T00:00:00）：请检查写入方的时钟或时区"
    ), future
    # 与 /openapi.json 的 ChartStatus 一致
    schema = client.get("/openapi.json").get_json()["components"]["schemas"]["ChartStatus"]["properties"]["data_warnings"]
    assert set(future) == set(schema["items"]["required"]) and future["code"] in schema["items"]["properties"]["code"]["enum"]
    assert sum("丢弃了时间比服务器时钟晚" in record.getMessage() for record in caplog.records) == 1, caplog.text


def test_a_future_row_already_in_the_saved_window_is_dropped_too(make_app: Any) -> None:
    """修复之前存下的窗口里已经有一行 2262 年的数据（或 LIVECHART_FUTURE_MARGIN 曾为 None）：读回窗口时同样丢弃并计数。"""
    app = chart_app(make_app, "ahead", "ahead", LIVECHART_WARM_CACHE=False)
    saved = pd.DataFrame({"v": [5.0, 999.0]}, index=pd.DatetimeIndex([pd.Timestamp.now() - pd.Timedelta(seconds=5), FAR_AHEAD]))
    with app.app_context():
        history.get().append("ahead", saved, 100, None)
    client = app.test_client()
    assert client.post("/scheduler/jobs/redraw-ahead/run", json={}).status_code == 200
    window = jobs.redrawers(app)["ahead"].window
    assert window["v"].tolist() == [5.0, 1.0], window
    with app.app_context():  # 共享的窗口里也没有了
        assert history.load("ahead")["v"].tolist() == [5.0, 1.0]
    assert warnings_of(client, "ahead")["future_rows"]["count"] == 1


def test_future_margin_none_keeps_rows_from_the_future(make_app: Any) -> None:
    """LIVECHART_FUTURE_MARGIN = None：不检查（比如画预测值的图表），未来的行照样进窗口。"""
    app = chart_app(make_app, "ahead", "ahead", LIVECHART_FUTURE_MARGIN=None)
    window = jobs.redrawers(app)["ahead"].window
    assert window.index[-1] == FAR_AHEAD
    assert app.test_client().get("/api/charts/ahead").get_json()["data_warnings"] == []


@pytest.mark.parametrize("value", [-1, "5min", True, 400 * 86400])
def test_future_margin_is_checked_at_start_up(make_app: Any, value: Any) -> None:
    with pytest.raises(ConfigError, match=r"^LIVECHART_FUTURE_MARGIN 必须是 0 到 31536000（一年）之间的秒数.*，收到 "):
        chart_app(make_app, "ahead", "ahead", LIVECHART_FUTURE_MARGIN=value)


def test_values_out_of_range_are_reported_and_the_real_data_is_drawn(make_app: Any) -> None:
    """±1e308 与 -inf：绘制成功，y 轴范围覆盖真实的数据（20–22）而不是被撑开，状态里有一条警告。"""
    app = chart_app(make_app, "huge", "huge")
    client = app.test_client()
    assert client.post("/scheduler/jobs/redraw-huge/run", json={}).status_code == 200
    image = client.get("/charts/huge.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    status = client.get("/api/charts/huge").get_json()
    assert status["last_error"] is None and status["version"] == 2, status
    low, high = built_in(jobs.redrawers(app)["huge"].renderer).axes.get_ylim()
    assert low <= 20 and high >= 22 and high - low < 10, (low, high)
    warning = warnings_of(client, "huge")["values_out_of_range"]
    assert warning["count"] == 3 and warning["row_time"] == START.isoformat(), warning
    assert warning["message"].startswith("窗口里有 3 个值是无穷大或绝对值超过 1e+18"), warning


# --------------------------------------------------------------- 真实的服务进程：CSV 文件与 SQLite 库


def now_text() -> str:
    """现在（UTC，无时区：服务进程以 TZ=UTC 运行），与 SQLite 的 datetime 参数同样的文本形式。"""
    return str(pd.Timestamp.now(tz="UTC").tz_localize(None).to_pydatetime())


def append_csv(path: Path, at: str, value: float) -> None:
    with open(path, "a") as handle:
        handle.write(f"{at},{value}\n")


def insert(db: Path, at: str, value: float) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute("INSERT INTO readings VALUES (?, ?)", (at, value))
    connection.close()


def values(server: Server, chart: str) -> list[float]:
    """图表窗口里的值（/api/charts/<name>/data）。"""
    return [row[1] for row in server.get(f"/api/charts/{chart}/data").json()["rows"]]


def status(server: Server, chart: str) -> dict[str, Any]:
    return server.get(f"/api/charts/{chart}").json()


def future_rows(server: Server, chart: str) -> dict[str, Any] | None:
    return next((w for w in status(server, chart)["data_warnings"] if w["code"] == "future_rows"), None)


def inputs(tmp_path: Path) -> tuple[Path, Path, Server]:
    """CSV 文件与 SQLite 库里各有两行现在的数据（1、2），服务进程画着它们。"""
    folder = tmp_path / "inputs"
    folder.mkdir()
    csv_path, db_path = folder / "log.csv", folder / "orders.db"
    csv_path.write_text("time,v\n")
    with sqlite3.connect(db_path) as connection:
        connection.execute("CREATE TABLE readings (at TEXT, v REAL)")
    connection.close()
    for value in (1.0, 2.0):
        append_csv(csv_path, now_text(), value)
        insert(db_path, now_text(), value)
    env = {"LIVECHART_CONFIG": "tests.e2e_config:DataQualityE2EConfig", "LIVECHART_TEST_CSV": str(csv_path),
           "LIVECHART_TEST_DB": str(db_path), "TZ": "UTC"}  # fmt: skip
    server = start_server(tmp_path, env=env)
    for chart in ("log", "orders"):
        wait_for(lambda chart=chart: values(server, chart) == [1.0, 2.0], 30, f"{chart}: the first rows")
    return csv_path, db_path, server


@pytest.mark.e2e
def test_rows_from_the_future_do_not_freeze_csv_and_sql_charts(tmp_path: Path) -> None:
    """一行 2099 年的数据：CSV 图表的 120 秒窗口不只剩那一行，SQL 的 :since 不跳到 2099 年；它被丢弃、计数一次、日志一行。"""
    csv_path, db_path, server = inputs(tmp_path)
    try:
        # 写入方的时钟错了：一行 2099 年的数据；等到两个图表都又重绘了两次（那一行已经取到）
        versions = {chart: status(server, chart)["version"] for chart in ("log", "orders")}
        append_csv(csv_path, "2099-01-01 00:00:00", 999.0)
        insert(db_path, "2099-01-01 00:00:00", 999.0)
        for chart, version in versions.items():
            wait_for(lambda chart=chart, version=version: status(server, chart)["version"] >= version + 2, 30, "redraws")
        # 之后的真实数据照样进窗口
        append_csv(csv_path, now_text(), 3.0)
        insert(db_path, now_text(), 3.0)
        expected = {"log": [1.0, 2.0, 3.0], "orders": [1.0, 2.0, 3.0]}
        with contextlib.suppress(AssertionError):  # 超时了由下一行说明哪个图表缺了什么
            wait_for(lambda: {chart: values(server, chart) for chart in expected} == expected, 30, "later rows")
        assert {chart: values(server, chart) for chart in expected} == expected
        for chart in expected:
            found = future_rows(server, chart)
            assert found is not None and found["count"] == 1 and found["row_time"] == "2099-01-01T00:00:00", found
            assert status(server, chart)["last_error"] is None
        # SQL 每个节拍都会再读到那一行：同一时刻只计一次，日志也只有一行
        version = status(server, "orders")["version"]
        wait_for(lambda: status(server, "orders")["version"] >= version + 2, 30, "orders: two more redraws")
        assert future_rows(server, "orders")["count"] == 1
        log = server.log.read_text()
        for chart in ("log", "orders"):
            assert log.count(f"图表 {chart} 丢弃了时间比服务器时钟晚") == 1, log
    finally:
        assert server.stop() == 0, server.log.read_text()


@pytest.mark.e2e
def test_a_deleted_csv_file_is_reported_until_it_comes_back(tmp_path: Path) -> None:
    """CSV 文件被删掉：短暂的宽限之后状态说在等它（而不是一直悄悄地画旧数据）；新文件出现后从头读它，图表恢复。"""
    csv_path, _, server = inputs(tmp_path)
    try:
        os.remove(csv_path)

        def waiting() -> dict[str, Any] | None:
            error = status(server, "log")["last_error"]
            return error if error and error["consecutive_failures"] > 0 else None

        error = wait_for(waiting, 30, "the deleted CSV file was not reported")
        assert error["message"] == f"数据源 csv：InputUnavailable: CSV 文件 {str(csv_path)!r} 被删除了；等它重新出现"
        csv_path.write_text(f"time,v\n{now_text()},4.0\n")
        wait_for(lambda: status(server, "log")["last_error"]["consecutive_failures"] == 0, 30, "log did not recover")
        wait_for(lambda: values(server, "log") == [1.0, 2.0, 4.0], 30, "the new file's row is not in the window")
    finally:
        assert server.stop() == 0, server.log.read_text()


def test_malformed_csv_lines_are_counted_in_the_status(tmp_path: Path) -> None:
    """跳过的格式错误的行不再只在数据源里计数：状态（/api/charts/<name>）的 source_stats 报告它们。"""
    csv_path, _, server = inputs(tmp_path)
    try:
        assert status(server, "log")["source_stats"] == {"malformed_rows": 0}
        with open(csv_path, "a") as handle:
            handle.write("garbage\nnot-a-time,1\n")
        append_csv(csv_path, now_text(), 3.0)
        wait_for(lambda: values(server, "log") == [1.0, 2.0, 3.0], 30, "the good row after the bad ones was not read")
        assert status(server, "log")["source_stats"] == {"malformed_rows": 2}
        assert status(server, "orders")["source_stats"] == {}  # SQL 数据源没有自己的计数
    finally:
        assert server.stop() == 0, server.log.read_text()
