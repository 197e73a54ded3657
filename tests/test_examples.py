"""examples/ 中的配置：每个都能用 LIVECHART_CONFIG=examples.<名字> 启动并画出全部图表。"""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from examples import writer
from livechart import ConfigError
from livechart import history
from livechart import jobs
from tests.conftest import ROOT


def at(step: int) -> datetime:
    """第 step 行的时间：每行相隔一秒（写入方真实运行时也是每秒一行）。"""
    return datetime.now().replace(microsecond=0) - timedelta(seconds=60) + timedelta(seconds=step)


@pytest.fixture
def example_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """写入方写好的 CSV 与 SQLite 数据；示例配置在导入时读取环境变量，所以重新导入。"""
    paths = {"csv": tmp_path / "log.csv", "db": tmp_path / "orders.db"}
    for step in range(5):
        writer.write_csv(paths["csv"], step, at(step))
        writer.write_sqlite(paths["db"], step, at(step))
    monkeypatch.setenv("LIVECHART_EXAMPLE_CSV", str(paths["csv"]))
    monkeypatch.setenv("LIVECHART_EXAMPLE_DB", str(paths["db"]))
    monkeypatch.delenv("LIVECHART_EXAMPLE_DB_URL", raising=False)
    for name in ("system", "csv_log", "sql_table"):
        importlib.reload(importlib.import_module(f"examples.{name}"))
    return paths


@pytest.mark.usefixtures("example_data")
@pytest.mark.parametrize("name", ["system", "csv_log", "sql_table", "custom"])
def test_example_draws_every_chart(name: str, make_app: Any) -> None:
    app = make_app(f"examples.{name}")
    client = app.test_client()
    for chart in jobs.redrawers(app):
        status = client.get(f"/api/charts/{chart}").get_json()
        assert status["last_error"] is None, status
        assert status["version"] >= 1
        response = client.get(f"/charts/{chart}.png")
        assert response.status_code == 200 and response.data.startswith(b"\x89PNG")


def test_csv_example_follows_the_writer(make_app: Any, example_data: dict[str, Path]) -> None:
    app = make_app("examples.csv_log")
    with app.app_context():
        assert len(history.load("climate")) == 5
        for step in range(5, 8):
            writer.write_csv(example_data["csv"], step, at(step))
        jobs.redraw("climate")
        assert len(history.load("climate")) == 8


def test_sql_example_reads_only_new_rows(make_app: Any, example_data: dict[str, Path]) -> None:
    app = make_app("examples.sql_table")
    with app.app_context():
        jobs.redraw("orders")
        assert len(history.load("orders")) == 5
        writer.write_sqlite(example_data["db"], 5, at(5))
        jobs.redraw("orders")
        assert len(history.load("orders")) == 6


@pytest.mark.parametrize(("name", "chart"), [("csv_log", "climate"), ("sql_table", "orders")])
def test_example_starts_before_its_writer(
    name: str, chart: str, make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """写入方还没启动：示例照常启动，图表在状态里指明缺的文件（SQLite 库不会被建出来），写入方开始写后恢复。"""
    paths = {"csv": tmp_path / "later.csv", "db": tmp_path / "later.db"}
    monkeypatch.setenv("LIVECHART_EXAMPLE_CSV", str(paths["csv"]))
    monkeypatch.setenv("LIVECHART_EXAMPLE_DB", str(paths["db"]))
    monkeypatch.delenv("LIVECHART_EXAMPLE_DB_URL", raising=False)
    importlib.reload(importlib.import_module(f"examples.{name}"))
    app = make_app(f"examples.{name}")
    client = app.test_client()
    path = paths["csv" if name == "csv_log" else "db"]
    status = client.get(f"/api/charts/{chart}").get_json()
    assert status["version"] == 0 and repr(str(path)) in status["last_error"]["message"], status
    assert not paths["db"].exists()
    write = writer.write_csv if name == "csv_log" else writer.write_sqlite
    for step in range(3):
        write(path, step, at(step))
    with app.app_context():
        jobs.redraw(chart)
    status = client.get(f"/api/charts/{chart}").get_json()
    assert status["version"] == 1 and status["last_error"]["consecutive_failures"] == 0, status
    with app.app_context():
        assert len(history.load(chart)) == 3


def test_module_without_config_class_is_refused(make_app: Any) -> None:
    with pytest.raises(ConfigError, match=r"^LIVECHART_CONFIG='examples\.writer'：模块里没有 Config 类；"):
        make_app("examples.writer")


def test_writer_command(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    subprocess.run(
        [sys.executable, "-m", "examples.writer", "csv", str(path), "--count", "3", "--interval", "0"],
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    assert len(path.read_text().splitlines()) == 4
