"""CSV 日志：跟踪另一个程序不断追加的 CSV 文件（温度与湿度）。

运行（两者谁先启动都可以；写入方在后台，服务在前台）：
    .venv/bin/python -m examples.writer csv /tmp/livechart-example.csv &     # 每秒追加一行
    LIVECHART_CONFIG=examples.csv_log make run
文件出现之前，图表在状态（页面上的标记、/api/charts、/healthz）里指明缺的文件；文件出现后的下一次重绘就开始绘制。
文件路径可用 LIVECHART_EXAMPLE_CSV 修改。
"""

import os

from config import DevelopmentConfig

PATH = os.environ.get("LIVECHART_EXAMPLE_CSV", "/tmp/livechart-example.csv")


class Config(DevelopmentConfig):
    """CSV 文件中的温度与湿度。"""

    CHARTS = {
        "climate": {
            "title": "机房温度与湿度",
            "source": {"type": "csv", "path": PATH, "time": "time", "columns": ["temperature", "humidity"]},
            "series": {"temperature": "温度", "humidity": {"label": "湿度", "axis": "right"}},
            "ylabel": "温度 (°C)",
            "y2label": "湿度",
            "y2unit": "percent",
            "y2lim": [0, 100],
            "window": "15min",
            "annotate_last": True,
        },
    }
    JOBS = [
        {
            "id": "redraw-climate",
            "func": "livechart.jobs:redraw",
            "kwargs": {"chart": "climate"},
            "trigger": "interval",
            "seconds": 2,
        },
    ]
