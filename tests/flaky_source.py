"""一个按标志文件失败的数据源：文件存在时抛出异常，不存在时返回一行（测试失败日志与恢复）。"""

from __future__ import annotations

import os


def reading(flag: str) -> dict[str, float]:
    """标志文件存在时失败。"""
    if os.path.exists(flag):
        raise RuntimeError("the flaky source is failing on purpose")
    return {"value": 1.0}
