"""停止 app 的唯一路径（livechart/shutdown.py）：python -m livechart、gunicorn 的工作进程与测试拆除都走它。"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy import text

from livechart import jobs
from livechart import shutdown


def job(chart: str) -> dict[str, Any]:
    return {"id": f"redraw-{chart}", "func": "livechart.jobs:redraw", "kwargs": {"chart": chart}, "trigger": "interval",
            "seconds": 60}  # fmt: skip


def connections(admin: Any, name: str) -> int:
    """PostgreSQL 上以 application_name 标明的、还开着的连接数。"""
    with admin.connect() as connection:
        query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
        return int(connection.execute(query, {"name": name}).scalar_one())


def test_stopping_the_app_closes_its_sources(make_app: Any, postgres_url: str, tmp_path: Path) -> None:
    """停止时关闭数据源：数据库连接还给服务器，CSV 文件句柄关上（以前只有重新载入删掉图表时才关闭）。
    之后还卡在数据源里的重绘回来时，重绘器已经退役，不写图片与错误。"""
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text("CREATE TABLE shutdown_readings (at timestamp, temp float)"))
        connection.execute(text("INSERT INTO shutdown_readings VALUES (now(), 21.5)"))
    csv = tmp_path / "readings.csv"
    csv.write_text("time,temp\n2026-01-01 00:00:00,20\n")
    url = f"{postgres_url}?application_name=livechart-shutdown-test"
    charts = {
        "db": {"title": "db", "source": {"type": "sql", "url": url, "query": "SELECT at, temp FROM shutdown_readings", "time": "at",
                                         "columns": ["temp"]}, "series": ["temp"], "window": "60s"},
        "file": {"title": "file", "source": {"type": "csv", "path": str(csv), "time": "time", "columns": ["temp"]},
                 "series": ["temp"], "window": "60s"},
    }  # fmt: skip
    app = make_app("testing", CHARTS=charts, JOBS=[job("db"), job("file")])
    redrawers = jobs.redrawers(app)
    assert connections(admin, "livechart-shutdown-test") == 1  # 预热取过一次数：连接池里留着一个连接
    assert redrawers["file"].source.handle is not None

    shutdown.stop(app)

    assert connections(admin, "livechart-shutdown-test") == 0
    assert redrawers["file"].source.handle is None
    assert all(redrawer.retired for redrawer in redrawers.values())
    shutdown.stop(app)  # 第二次什么也不做
    admin.dispose()
