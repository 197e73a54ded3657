"""自己的 Matplotlib 代码：延迟直方图、每核 CPU 热力图，以及最简单的图——每秒一张随机数据。

运行：LIVECHART_CONFIG=examples.custom make run

每个图表的 draw 是一个函数 function(fig, data[, context])：fig 是图表大小的 Figure，data 是图表的滚动窗口
（DataFrame；没有 source 的图表为 None）。只画在给你的 fig 上，不要用 pyplot（docs/drawing.md）。
"""

import matplotlib.dates as mdates
import numpy as np
import pandas as pd

from config import DevelopmentConfig


# --- 最简单的图：没有数据源，函数自己造数据，每秒重画 ---
def noise(fig, data):
    ax = fig.add_subplot()
    ax.plot(np.random.normal(size=60).cumsum())
    ax.set_title("随机游走（每秒重画）")


# --- 延迟直方图：数据源是模拟的请求延迟，窗口保留最近一分钟的请求 ---
def latencies(rate=200, seed=None):
    """模拟的数据源（python 类型）：上一秒里 rate 个请求的延迟（毫秒，对数正态，偶尔有慢请求）。"""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp.now()
    times = end - pd.to_timedelta(np.sort(rng.uniform(0, 1, rate))[::-1], unit="s")
    latency = rng.lognormal(np.log(40), 0.45, rate)
    slow = rng.random(rate) < 0.02
    latency[slow] *= rng.uniform(5, 15, slow.sum())
    return pd.DataFrame({"latency_ms": latency}, index=pd.DatetimeIndex(times, name="time"))


def edges(bins):
    """固定的对数分箱：5 ms 到 5 s，横轴不随数据跳动。"""
    return np.geomspace(5, 5_000, bins + 1)


# 分位数、颜色、标注的高度（轴高的比例，错开免得重叠）
QUANTILES = ((50, "C2", 0.96), (95, "C1", 0.88), (99, "C3", 0.80))


def latency_histogram(fig, data, *, bins=60):
    """窗口里全部请求的延迟分布（对数横轴），标出 p50、p95、p99。每次在清空的 Figure 上从头画（默认）。"""
    values = data["latency_ms"].dropna().to_numpy()
    counts, bounds = np.histogram(values, edges(bins))
    ax = fig.add_subplot()
    ax.stairs(counts, bounds, fill=True, color="C0", alpha=0.85)
    _label_axes(ax, counts, len(values))
    for quantile, color, height in QUANTILES:
        if len(values):
            at = np.percentile(values, quantile)
            ax.axvline(at, color=color, linewidth=1.2, linestyle="--")
            ax.annotate(_quantile_text(quantile, at), (at, height), xycoords=("data", "axes fraction"), xytext=(4, 0),
                        textcoords="offset points", color=color, fontsize="small", va="top")  # fmt: skip


def latency_histogram_kept(fig, data, context, *, bins=60):
    """同一张图，keep=True：第一次建好图元（context.artists 为空），之后只更新数据，更快（bench/README.md）。"""
    values = data["latency_ms"].dropna().to_numpy()
    counts, bounds = np.histogram(values, edges(bins))
    kept = context.artists
    if not kept:
        ax = kept["ax"] = fig.add_subplot()
        kept["bars"] = ax.stairs(counts, bounds, fill=True, color="C0", alpha=0.85)
        kept["marks"] = [
            (quantile, height,
             ax.axvline(1, color=color, linewidth=1.2, linestyle="--"),
             ax.annotate("", (1, height), xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points",
                         color=color, fontsize="small", va="top"))
            for quantile, color, height in QUANTILES
        ]  # fmt: skip
    kept["bars"].set_data(counts, bounds)
    _label_axes(kept["ax"], counts, len(values))
    for quantile, height, line, text in kept["marks"]:
        line.set_visible(len(values) > 0)
        text.set_visible(len(values) > 0)
        if len(values):
            at = np.percentile(values, quantile)
            line.set_xdata([at, at])
            text.xy = (at, height)
            text.set_text(_quantile_text(quantile, at))


def _label_axes(ax, counts, total):
    ax.figure.subplots_adjust(left=0.09, right=0.97, bottom=0.14, top=0.9)
    ax.set_xscale("log")
    ax.set_xlim(5, 5_000)
    ax.set_ylim(0, max(1, counts.max()) * 1.15)
    ax.set_xlabel("延迟 (ms)")
    ax.set_ylabel("请求数")
    ax.set_title(f"请求延迟分布（最近 {total} 个请求）")


def _quantile_text(quantile, at):
    return f"p{quantile} {at:.0f} ms"


# --- 每核 CPU 热力图：行是核，列是时刻，颜色是使用率，右边是颜色条 ---
def cpu_heatmap(fig, data, context):
    """每核 CPU 使用率的热力图（pcolormesh + colorbar）；context.theme 为 dark 时换一个暗底的配色。"""
    fig.set_layout_engine("constrained")
    ax = fig.add_subplot()
    cores = [column for column in data.columns if column.startswith("cpu")]
    if len(data) < 2 or not cores:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "等待数据", transform=ax.transAxes, ha="center", va="center")
        return
    times = data.index.to_numpy()
    edges = np.append(times, times[-1] + (times[-1] - times[-2]))
    mesh = ax.pcolormesh(edges, np.arange(len(cores) + 1), data[cores].to_numpy().T, vmin=0, vmax=100,
                         cmap="magma" if context.theme == "dark" else "viridis", shading="flat")  # fmt: skip
    ax.set_yticks(np.arange(len(cores)) + 0.5, [f"核 {index}" for index in range(len(cores))])
    ax.set_title("每核 CPU 使用率")
    fig.colorbar(mesh, ax=ax, label="使用率 (%)", pad=0.02)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    # 角上的日期按中文的写法（2026-11-25），时刻不含糊（14:42:30）；Matplotlib 默认是 2026-Nov-25
    formats = ["%Y", "%Y-%m", "%m-%d", "%H:%M", "%H:%M", "%H:%M:%S"]
    offsets = ["", "%Y", "%Y", "%Y-%m-%d", "%Y-%m-%d", "%Y-%m-%d"]
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, formats=formats, offset_formats=offsets))


class Config(DevelopmentConfig):
    """三张自定义的图。"""

    CHARTS = {
        "latency": {
            "title": "请求延迟",
            "source": {"type": "python", "callable": "examples.custom:latencies", "columns": ["latency_ms"]},
            "window": "1min",
            "draw": {"function": "examples.custom:latency_histogram", "kwargs": {"bins": 60}},
        },
        "cores": {
            "title": "每核 CPU",
            "source": {"type": "system", "metrics": ["cpu_cores"]},
            "window": "2min",
            "draw": "examples.custom:cpu_heatmap",
        },
        "noise": {"title": "随机数据", "draw": "examples.custom:noise"},
    }
    JOBS = [
        {"id": f"redraw-{name}", "func": "livechart.jobs:redraw", "kwargs": {"chart": name}, "trigger": "interval", "seconds": 1}
        for name in CHARTS
    ]
