"""进程级的日志设置（python -m livechart 与 gunicorn 的工作进程共用）。"""

import logging
import os

from livechart.spec import chart_of_job


class SkippedTicks(logging.Filter):
    """去掉 APScheduler 每个被跳过的节拍一条的 “skipped: maximum number of running instances reached” 警告（重绘任务的）：
    上一次重绘还没结束时，livechart 自己报告原因一次（卡住的绘图函数，redrawer.Redrawer.report_hung），
    而不是每个节拍一条，几秒就刷满日志。"""

    def filter(self, record: logging.LogRecord) -> bool:
        job = record.args[0] if isinstance(record.args, tuple) and record.args else None
        skipped = "maximum number of running" in str(record.msg)
        return not (skipped and chart_of_job(getattr(job, "id", None)) is not None)


def configure() -> None:
    """按 LIVECHART_LOG_LEVEL 把日志写到 stderr；每行带进程号（gunicorn 下有多个工作进程）。"""
    logging.basicConfig(
        level=os.environ.get("LIVECHART_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s",
    )
    # APScheduler 每次运行任务都写两行 INFO；只保留警告（如错过的运行）
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(SkippedTicks())
