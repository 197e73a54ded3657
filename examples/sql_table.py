"""SQL 表：用 SQLAlchemy 增量查询一张不断插入新行的表（SQLite；换成 PostgreSQL 的 URL 同样可用）。

运行（两者谁先启动都可以；写入方在后台，服务在前台）：
    .venv/bin/python -m examples.writer sqlite /tmp/livechart-example.db &   # 每秒插入一行
    LIVECHART_CONFIG=examples.sql_table make run
SQLite 库以只读方式打开：库文件出现之前，图表在状态里指明缺的文件（livechart 不会建一个空库），出现后的下一次重绘就开始绘制。
数据库可用 LIVECHART_EXAMPLE_DB（文件路径）或 LIVECHART_EXAMPLE_DB_URL（任意 SQLAlchemy URL）修改。
"""

import os

from config import DevelopmentConfig

URL = (
    os.environ.get("LIVECHART_EXAMPLE_DB_URL")
    or f"sqlite:///{os.environ.get('LIVECHART_EXAMPLE_DB', '/tmp/livechart-example.db')}"
)


class Config(DevelopmentConfig):
    """orders 表中的订单数与金额。"""

    CHARTS = {
        "orders": {
            "title": "每秒订单数与金额",
            "source": {
                "type": "sql",
                "url": URL,
                # :since 是上一次见到的最新时间：每次只取新行
                "query": "SELECT at, orders, amount FROM orders WHERE at > :since ORDER BY at",
                "time": "at",
                "columns": ["orders", "amount"],
                "timeout": 2,
            },
            "series": {"orders": "订单数", "amount": {"label": "金额（元）", "axis": "right"}},
            "kind": "bar",
            "ylabel": "订单数",
            "y2label": "金额（元）",
            "window": "5min",
        },
    }
    JOBS = [
        {
            "id": "redraw-orders",
            "func": "livechart.jobs:redraw",
            "kwargs": {"chart": "orders"},
            "trigger": "interval",
            "seconds": 2,
        },
    ]
