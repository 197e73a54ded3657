"""test_inputs 的配置：除 demo 外，每个图表的输入（文件、数据库、HTTP 服务）在启动时都还不在。

路径与地址来自环境变量（服务进程在导入本模块时读取），每个图表每秒重绘一次。
"""

import os
from typing import Any
from typing import ClassVar

from config import DevelopmentConfig

CSV = os.environ.get("LIVECHART_TEST_CSV", "/nonexistent/inputs.csv")
DB = os.environ.get("LIVECHART_TEST_DB", "/nonexistent/inputs.db")
PG_URL = os.environ.get("LIVECHART_TEST_PG_URL", "postgresql+psycopg://127.0.0.1:1/postgres")
HTTP_URL = os.environ.get("LIVECHART_TEST_HTTP_URL", "http://127.0.0.1:1/")


def reading() -> dict[str, float]:
    """python 数据源：只返回 x 与 y（图表却要画 z）。"""
    return {"x": 1.0, "y": 2.0}


def job(chart: str) -> dict[str, Any]:
    """每秒重绘一次的任务。"""
    return {"id": f"redraw-{chart}", "func": "livechart.jobs:redraw", "kwargs": {"chart": chart}, "trigger": "interval",
            "seconds": 1}  # fmt: skip


class MissingInputsConfig(DevelopmentConfig):
    """demo 有数据；其余图表的输入都还不在，python 图表缺一列。"""

    CHARTS: ClassVar[dict[str, Any]] = {
        "demo": {"title": "模拟", "source": {"type": "demo", "seed": 1}},
        "csv": {
            "title": "CSV",
            "source": {"type": "csv", "path": CSV, "time": "time", "columns": ["temperature", "humidity"]},
        },
        "sqlite": {
            "title": "SQLite",
            "source": {
                "type": "sql",
                "url": f"sqlite:///{DB}",
                "query": "SELECT at, orders FROM orders WHERE at > :since",
                "time": "at",
                "columns": ["orders"],
            },
        },
        "postgres": {
            "title": "PostgreSQL",
            "source": {"type": "sql", "url": PG_URL, "query": "SELECT now() AS at, 1 AS v", "time": "at", "columns": ["v"]},
        },
        "http": {"title": "HTTP", "source": {"type": "http_json", "url": HTTP_URL, "values": {"v": "value"}}},
        "python": {"title": "Python", "source": {"type": "tests.inputs_config:reading"}, "series": ["x", "z"]},
    }
    JOBS: ClassVar[list[dict[str, Any]]] = [job(chart) for chart in CHARTS]


class UnimportableCallableConfig(DevelopmentConfig):
    """真正的配置错误：python 数据源的函数无法导入。"""

    CHARTS: ClassVar[dict[str, Any]] = {
        "bad": {"title": "坏", "source": {"type": "tests.inputs_config:no_such_function"}, "series": ["x"]}
    }
    JOBS: ClassVar[list[dict[str, Any]]] = [job("bad")]
