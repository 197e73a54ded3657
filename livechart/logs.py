"""进程级的日志设置（python -m livechart 与 gunicorn 的工作进程共用）。"""

import logging
import os


def configure() -> None:
    """按 LIVECHART_LOG_LEVEL 把日志写到 stderr；每行带进程号（gunicorn 下有多个工作进程）。"""
    logging.basicConfig(
        level=os.environ.get("LIVECHART_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s",
    )
    # APScheduler 每次运行任务都写两行 INFO；只保留警告（如错过的运行）
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
