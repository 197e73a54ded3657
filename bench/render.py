"""绘制基准（python -m bench.render）。每个数字都是同一次运行中并排测得的比值。

1. render：默认图表，livechart 的绘制器 对比 朴素的 pyplot 写法（同一图表、同样的数据），交替运行。
2. kinds：同样的数据（300 点 × 2 条序列，800×400）用每种图表类型绘制，轮流运行，报告与折线图的比值。
3. capacity：一个核在 1 秒间隔下能保持多少个图表最新：10 个各自独立的图表轮流做完整的一次
   重绘任务（取数据 → 滚动窗口 → 绘制），单线程运行数秒，计算每秒完成的重绘数。
"""

from __future__ import annotations

import argparse
import statistics
import time
from io import BytesIO
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter

import livechart  # noqa: F401  先选择 Agg 后端，再导入 pyplot（仅基准使用 pyplot）
from bench import common
from config import Config
from livechart.chart_units import format_value
from livechart.fonts import configure_fonts
from livechart.renderer import Renderer
from livechart.sources import DemoSource
from livechart.spec import ChartSpec
from livechart.spec import parse_chart
from livechart.window import append_window


def naive_pyplot(spec: ChartSpec, frame: pd.DataFrame, tight: bool = True) -> bytes:
    """教程式写法：每次新建 figure、plot、savefig(BytesIO)、close。

    tight=True 与 livechart 的版式相同（tight_layout，长刻度标签不被裁掉）；
    tight=False 用固定边距，更快，但会裁掉长标签——作为更严格的对照一并报告。
    """
    fig = plt.figure(figsize=(spec.width / spec.dpi, spec.height / spec.dpi), dpi=spec.dpi)
    ax = fig.add_subplot()
    for series in spec.series:
        (line,) = ax.plot(frame.index, frame[series.column], label=series.label, linewidth=1.5)
        if spec.annotate_last:
            last = frame[series.column].iloc[-1]
            ax.text(frame.index[-1], last, format_value(spec.unit, last, precise=True), color=line.get_color(),
                    fontsize="small", ha="right", va="bottom")  # fmt: skip
    if spec.unit != "plain":
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: format_value(spec.unit, value)))
    ax.set_title(spec.title)
    ax.set_ylabel(spec.ylabel)
    ax.grid(True, alpha=0.3)
    if spec.ylim:
        ax.set_ylim(*spec.ylim)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.legend(loc="upper left", fontsize="small")
    if tight:
        fig.tight_layout(pad=0.6)
    else:
        fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.1)
    buffer = BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def summary(samples: list[float]) -> dict[str, float]:
    """毫秒：中位数、最小、最大。"""
    ms = [s * 1000 for s in samples]
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "n": len(ms)}


def frames_for(spec: ChartSpec, count: int) -> list[pd.DataFrame]:
    """一个装满的滚动窗口，逐次前进一个点；数值映射到图表的列上。"""
    demo = DemoSource(seed=1, period=60, noise=0.1)
    window = demo.backfill(spec.points - 1, 2)
    frames = []
    for _ in range(count):
        window = append_window(window, demo.fetch(), spec.points, spec.span)
        columns = {s.column: (window["signal"] + 1) * 40 + i * 5 for i, s in enumerate(spec.series)}
        frames.append(pd.DataFrame(columns, index=window.index))
    return frames


def bench_render(renders: int) -> dict[str, Any]:
    """默认图表：livechart 对比朴素 pyplot，交替运行。"""
    name, raw = next(iter(Config.CHARTS.items()))
    spec = parse_chart(name, raw)
    frames = frames_for(spec, renders)
    renderer = Renderer(spec, compress_level=Config.LIVECHART_PNG_COMPRESS_LEVEL)
    renderer.render(frames[0])  # 预热：字体缓存、背景
    naive_pyplot(spec, frames[0])
    ours, naive, fixed = [], [], []
    for frame in frames:
        start = time.perf_counter()
        renderer.render(frame)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        naive_pyplot(spec, frame)
        naive.append(time.perf_counter() - start)
        start = time.perf_counter()
        naive_pyplot(spec, frame, tight=False)
        fixed.append(time.perf_counter() - start)
    return {
        "chart": name,
        "points": len(frames[-1]),
        "livechart": summary(ours),
        "naive_pyplot": summary(naive),
        "naive_pyplot_fixed_margins": summary(fixed),
        "ratio": statistics.median(ours) / statistics.median(naive),
        "ratio_fixed_margins": statistics.median(ours) / statistics.median(fixed),
    }


KINDS = {
    "line": {},
    "step": {"kind": "step"},
    "scatter": {"kind": "scatter"},
    "area": {"kind": "area"},
    "area_stacked": {"kind": "area", "stacked": True},
    "bar": {"kind": "bar"},
    "bar_stacked": {"kind": "bar", "stacked": True},
    "line_right_axis_annotated": {
        "series": {"signal": "信号", "walk": {"label": "游走", "axis": "right"}},
        "annotate_last": True,
    },
}


def bench_kinds(renders: int) -> dict[str, Any]:
    """每种图表类型，同样的数据，轮流运行。"""
    base = {"title": "图表类型基准", "source": {"type": "demo", "seed": 1}, "window": 300, "size": [800, 400]}
    specs = {kind: parse_chart(kind, {**base, **options}) for kind, options in KINDS.items()}
    frames = frames_for(specs["line"], renders)
    renderers = {kind: Renderer(spec) for kind, spec in specs.items()}
    samples: dict[str, list[float]] = {kind: [] for kind in specs}
    for renderer in renderers.values():
        renderer.render(frames[0])
    for frame in frames:
        for kind, renderer in renderers.items():
            start = time.perf_counter()
            renderer.render(frame)
            samples[kind].append(time.perf_counter() - start)
    line = statistics.median(samples["line"])
    return {kind: {**summary(s), "ratio_to_line": statistics.median(s) / line} for kind, s in samples.items()}


def bench_capacity(seconds: float) -> dict[str, Any]:
    """单线程轮流重绘 10 个独立图表（完整任务：取数据 → 窗口 → 绘制），数每秒完成多少次。"""
    name, raw = next(iter(Config.CHARTS.items()))
    charts = []
    for i in range(10):
        spec = parse_chart(
            f"{name}{i}", {**raw, "source": {"type": "demo", "seed": i}, "series": {"signal": "信号", "walk": "游走"}}
        )
        source = DemoSource(seed=i)
        charts.append([spec, source, Renderer(spec), source.backfill(spec.points - 1, 1)])
    for chart in charts:
        chart[2].render(chart[3])
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for chart in charts:
            spec, source, renderer, window = chart
            chart[3] = append_window(window, source.fetch(), spec.points, spec.span)
            renderer.render(chart[3])
            done += 1
    per_second = done / (time.perf_counter() - started)
    return {"redraws_per_second": per_second, "charts_current_at_1s_per_core": int(per_second)}


def main() -> None:
    """运行基准并打印表格，写入 bench/results.json。"""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=int, default=150, help="每项的绘制次数（默认 150）")
    parser.add_argument("--seconds", type=float, default=5, help="capacity 的运行时长（默认 5 秒）")
    args = parser.parse_args()
    configure_fonts()

    render = bench_render(args.renders)
    kinds = bench_kinds(args.renders)
    capacity = bench_capacity(args.seconds)
    machine = common.machine()
    common.save_results("render", render)
    common.save_results("kinds", kinds)
    common.save_results("capacity", capacity)

    print(f"render: default chart {render['chart']!r}, {render['points']} points, {args.renders} interleaved renders each")
    print(f"  {'':14}{'median ms':>10}{'min ms':>9}{'max ms':>9}")
    rows = (("livechart", "livechart"), ("naive pyplot", "naive_pyplot"), ("naive, fixed", "naive_pyplot_fixed_margins"))
    for label, key in rows:
        s = render[key]
        print(f"  {label:14}{s['median_ms']:>10.2f}{s['min_ms']:>9.2f}{s['max_ms']:>9.2f}")
    print(f"  ratio livechart / naive pyplot (same layout): {render['ratio']:.3f}x")
    print(f"  ratio livechart / naive pyplot with fixed margins (clips long labels): {render['ratio_fixed_margins']:.3f}x")
    print(f"kinds: same data (300 points x 2 series, 800x400), round-robin, {args.renders} renders each")
    print(f"  {'kind':28}{'median ms':>10}{'min ms':>9}{'max ms':>9}{'vs line':>9}")
    for kind, s in kinds.items():
        print(f"  {kind:28}{s['median_ms']:>10.2f}{s['min_ms']:>9.2f}{s['max_ms']:>9.2f}{s['ratio_to_line']:>8.2f}x")
    print(f"capacity: {capacity['redraws_per_second']:.1f} full redraws/s on one thread "
          f"-> one core keeps ~{capacity['charts_current_at_1s_per_core']} charts current at a 1 s interval")  # fmt: skip
    print(f"machine: {machine}")


if __name__ == "__main__":
    main()
