"""每种内置类型（line、area、bar、step、scatter）的图元：创建时建好（空的），之后只把每一帧的数据写进去。

每条序列的数据是 (底, 顶) 两列：堆叠时底是下面各条序列的累加，否则为 0。缺失值与缺口（livechart/chart_gaps.py）
处断开（折线、阶梯、散点、面积），柱状图不受缺口影响。
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.text import Text

from livechart.chart_dates import SECONDS_PER_DAY
from livechart.chart_gaps import runs
from livechart.chart_gaps import typical_step
from livechart.quality import drawable
from livechart.spec import ChartSpec
from livechart.spec import SeriesSpec


@dataclass
class Drawn:
    """一条序列在图上的图元。"""

    series: SeriesSpec
    axes: Axes
    artist: Artist
    label: Text | None
    unit: str


def create_artist(ax: Axes, spec: ChartSpec, color: str, label: str) -> Artist:
    """按图表类型在 ax 上为一条序列创建（空的）图元：折线类为 Line2D，面积与柱状为 PolyCollection。"""
    artist: Artist
    if spec.kind in ("line", "step", "scatter"):
        style: dict[str, Any] = {"linewidth": 1.5}
        if spec.kind == "step":
            style["drawstyle"] = "steps-post"
        elif spec.kind == "scatter":
            style = {"linestyle": "none", "marker": "o", "markersize": 3}
        (artist,) = ax.plot([], [], color=color, label=label, **style)
    else:
        alpha = 0.85 if spec.kind == "bar" or spec.stacked else 0.35
        artist = PolyCollection([], facecolors=color, edgecolors=color if spec.kind == "area" else "none", alpha=alpha,
                                linewidths=1.0, label=label)  # fmt: skip
        ax.add_collection(artist, autolim=False)
    return artist


def stacks(frame: pd.DataFrame, drawn: list[Drawn], stacked: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """每条序列的 (底, 顶)：堆叠时逐条累加（缺失值按 0，每个 y 轴各自累加），否则底为 0。"""
    result = {}
    base: dict[int, np.ndarray] = {}
    for each in drawn:
        column = each.series.column
        if column not in frame.columns:
            raise ValueError(f"数据里没有 {column!r} 列（现有的列：{', '.join(map(str, frame.columns))}）")
        # ±inf、±1e308 之类超出范围的值不画（换成缺口）：一个这样的值不能把真实数据压扁或让范围溢出（livechart/quality.py）
        values = drawable(frame[column].to_numpy(dtype=float))
        if stacked:
            bottom = base.get(id(each.axes), np.zeros(len(values)))
            top = bottom + np.nan_to_num(values)
            top[~np.isfinite(values)] = np.nan
            base[id(each.axes)] = np.where(np.isfinite(values), top, bottom)
            result[column] = (bottom, top)
        else:
            result[column] = (np.zeros(len(values)), values)
    return result


def bar_geometry(x: np.ndarray, stacked: bool, count: int) -> tuple[float, float]:
    """柱宽与并排时每条序列的宽度（天）；count 为序列条数。"""
    spacing = float(np.median(np.diff(x))) if len(x) > 1 else 1 / SECONDS_PER_DAY
    width = 0.8 * spacing
    side_by_side = 1 if stacked else count
    return width, width / side_by_side


def show(artist: Any, spec: ChartSpec, index: int, x: np.ndarray, column: tuple[np.ndarray, np.ndarray],
         breaks: np.ndarray, bars: tuple[float, float]) -> None:  # fmt: skip
    """把第 index 条序列的 (底, 顶) 写进它的图元；breaks 为缺口前一点的下标，bars 为 bar_geometry 的结果。"""
    bottom, top = column
    if spec.kind == "area":
        # 缺失值与缺口处断开：每一段是一个单独的多边形
        polygons = [
            np.concatenate([np.column_stack([x[part], top[part]]), np.column_stack([x[part], bottom[part]])[::-1]])
            for part in runs(np.isfinite(top), breaks)
        ]
        artist.set_verts(polygons)
    elif spec.kind == "bar":
        width, each = bars
        left = x - width / 2 + (0 if spec.stacked else index * each)
        ok = np.isfinite(top)
        x0, x1, y0, y1 = left[ok], left[ok] + each, bottom[ok], top[ok]
        corners = ((x0, y0), (x0, y1), (x1, y1), (x1, y0))
        artist.set_verts(np.stack([np.column_stack(corner) for corner in corners], axis=1))
    elif len(breaks):
        # 缺口处插入一个 NaN 点把线断开；阶梯图的最后一级保持一个典型间隔
        xs = np.insert(x, breaks + 1, x[breaks] + typical_step(x))
        artist.set_data(xs, np.insert(top, breaks + 1, np.nan))
    else:
        artist.set_data(x, top)
