"""停止一个 app：进程退出（python -m livechart、gunicorn 的工作进程）与测试拆除走同一条路，每一步做一次。"""

from __future__ import annotations

from flask import Flask

from livechart import coordination
from livechart import deadline
from livechart import jobs
from livechart import reload
from livechart.extensions import scheduler


def stop(app: Flask, *, exit_within: float | None = None) -> None:
    """按顺序停下 app 的一切；可以调用多次。

    exit_within：进程正在退出时，卡住的数据源不能让它不退出——等待取数的线程立即返回，最迟这么多秒后结束进程
    （deadline.exit_within）；测试拆除时为 None。
    """
    if exit_within is not None:
        deadline.exit_within(exit_within)
    # 1. 不再重新载入配置（它会建新的重绘器、加任务）
    reload.stop(app)
    # 2. 不再开始新的重绘；不等正在进行的：它要么在退出前画完，要么被丢弃（缓存里仍是上一张）
    if scheduler.running and scheduler.app is app:
        scheduler.shutdown(wait=False)
    # 3. 共用 Redis 时交出拥有的图表：别的进程下一个节拍就接手，而不是等租约过期
    coordination.stop(app)
    # 4. 重绘器退役（还在进行的重绘不再写图片、错误与指标），关闭数据源（连接池、文件），结束渲染进程池
    jobs.shutdown(app)
