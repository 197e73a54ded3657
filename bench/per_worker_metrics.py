"""对照组的 gunicorn 设置：与 make run-prod 完全相同，只是不开 prometheus-client 的多进程模式
（每个工作进程只有自己的指标，issue 11 之前的做法），用来量多进程指标在提供图片时的开销。

gunicorn -c python:bench.per_worker_metrics livechart.wsgi:app
"""

from livechart.gunicorn_config import *  # noqa: F403
from livechart.gunicorn_config import REFUSED
from livechart.gunicorn_config import _problem


def on_starting(server: object) -> None:
    """只做部署检查，不准备多进程指标的目录。"""
    if _problem is not None:
        raise RuntimeError(f"{REFUSED}{_problem}")


def child_exit(server: object, worker: object) -> None:
    """没有多进程指标：工作进程退出时无事可做。"""


def on_exit(server: object) -> None:
    """没有多进程指标的目录要删除。"""
