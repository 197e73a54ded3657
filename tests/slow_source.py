"""一个卡住直到测试放行的数据源（单独成模块：数据源按 "tests.slow_source:fetch" 导入，测试也从这里导入同一对象）。"""

from __future__ import annotations

import threading

RELEASE = threading.Event()
ENTERED = threading.Event()


def fetch() -> dict[str, float]:
    """进入时置位 ENTERED，然后等待 RELEASE。"""
    ENTERED.set()
    assert RELEASE.wait(30)
    return {"v": 1.0}
