"""每次返回现在的一行和一行 2099 年的数据（测试来自未来的行被丢弃并显示在页面上）。"""

from __future__ import annotations

import pandas as pd


def rows() -> pd.DataFrame:
    """现在一行，2099 年一行。"""
    return pd.DataFrame({"v": [1.0, 2.0]}, index=pd.DatetimeIndex([pd.Timestamp.now(), pd.Timestamp("2099-01-01")]))
