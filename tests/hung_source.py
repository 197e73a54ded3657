"""一个永远不返回的数据源（如卡住的套接字）：测试取数期限与进程退出。"""

from __future__ import annotations

import threading


def forever() -> dict[str, float]:
    """永远等待（释放 GIL，就像卡在网络读上）。"""
    threading.Event().wait()
    return {"v": 1.0}
