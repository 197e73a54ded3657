"""数据里的缺口：相邻两点的间隔超过典型采样间隔的几倍就算缺口，折线、阶梯、散点、面积在那里断开。"""

from __future__ import annotations

import numpy as np

from livechart.chart_dates import SECONDS_PER_DAY

# 相邻两点的间隔超过“典型间隔”的这么多倍就算缺口，画成断开
GAP_FACTOR = 3.0


def gap_starts(x: np.ndarray) -> np.ndarray:
    """缺口之前那个点的下标：与下一点的间隔超过典型间隔的 GAP_FACTOR 倍。

    典型间隔取正间隔的下四分位数（而不是中位数）：窗口里只有几个点时（重启后刚有两三个新点），
    一个长缺口也不会把中位数拉大到认不出自己。"""
    if len(x) < 3:
        return np.empty(0, dtype=int)
    steps = np.diff(x)
    positive = steps[steps > 0]
    if positive.size < 2:
        return np.empty(0, dtype=int)
    return np.flatnonzero(steps > GAP_FACTOR * float(np.quantile(positive, 0.25)))


def typical_step(x: np.ndarray) -> float:
    """典型的采样间隔（天）：正间隔的下四分位数；不到两个点时为 1 秒。"""
    steps = np.diff(x)
    positive = steps[steps > 0]
    return float(np.quantile(positive, 0.25)) if positive.size else 1 / SECONDS_PER_DAY


def runs(mask: np.ndarray, breaks: np.ndarray) -> list[slice]:
    """mask 为真、且不跨越缺口（breaks 为缺口前一点的下标）的连续片段（向量化：每帧每条序列都要算）。"""
    if not len(mask):
        return []
    cut = np.zeros(len(mask), dtype=bool)
    cut[breaks + 1] = True
    starts = mask & (~np.r_[False, mask[:-1]] | cut)
    ends = mask & (~np.r_[mask[1:], False] | np.r_[cut[1:], False])
    return [slice(a, b + 1) for a, b in zip(np.flatnonzero(starts), np.flatnonzero(ends), strict=True)]
