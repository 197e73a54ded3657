"""一个能让某个进程卡住的数据源：目录 LIVECHART_TEST_STALL_DIR 里有 stall-<pid> 文件时，这个进程的取数不再返回。

测试用它让图表的所有者（只有它）卡住，看别的进程是否在两个间隔内接手。
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def reading(folder: str) -> dict[str, float]:
    """平时返回一行；本进程被点名时永远等待（释放 GIL，就像卡在网络读上）。"""
    if (Path(folder) / f"stall-{os.getpid()}").exists():
        threading.Event().wait()
    return {"v": float(os.getpid() % 1000)}
