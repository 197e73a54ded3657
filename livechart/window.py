"""滚动窗口：图表的历史数据，按点数与时长裁剪（内存有界）。

窗口由每个图表的重绘器持有（redrawer.py），所有进程共用的一份存在 history.py，这样使用 Redis 时历史数据能跨进程重启保留。
本模块是纯数据代码，不导入 Flask。
"""

from __future__ import annotations

import pandas as pd


def append_window(window: pd.DataFrame | None, rows: pd.DataFrame, points: int, span: float | None) -> pd.DataFrame:
    """把新行并入滚动窗口：按时间排序，同一时刻以新值为准，再按点数与时长裁剪（内存有界）。"""
    frame = rows if window is None or window.empty else pd.concat([window, rows])
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index(kind="stable")
    if frame.index.has_duplicates:
        frame = frame[~frame.index.duplicated(keep="last")]
    if span is not None and len(frame):
        frame = frame[frame.index > frame.index[-1] - pd.Timedelta(seconds=span)]
    return frame.iloc[-points:]
