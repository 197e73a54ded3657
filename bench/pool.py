"""渲染进程池的吞吐（python -m bench.pool）：20 个图表每轮同时要重绘（如同同一秒触发的 20 个任务），
在本进程（0，类级锁串行）、1 个和 2 个绘制进程里各画多少张每秒。三者交替运行多轮，报告中位数与比值。
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from bench import common
from livechart.fonts import configure_fonts
from livechart.pool import RenderPool
from livechart.renderer import Renderer
from livechart.sources import DemoSource
from livechart.spec import ChartSpec
from livechart.spec import parse_chart

CHARTS = 20


def specs() -> dict[str, ChartSpec]:
    """20 个与默认图表同样大小（800×400，300 点 × 2 条序列）的图表。"""
    raw = {"source": {"type": "demo"}, "series": {"signal": "信号", "walk": "随机游走"}, "window": 300}
    return {
        f"c{i}": parse_chart(f"c{i}", {**raw, "title": f"图表 {i}", "source": {"type": "demo", "seed": i}}) for i in range(CHARTS)
    }


class InProcess:
    """对照：在本进程里绘制（调度器线程的做法，Matplotlib 的类级锁让它们串行）。"""

    def __init__(self, charts: dict[str, ChartSpec]) -> None:
        self.renderers = {name: Renderer(spec) for name, spec in charts.items()}

    def render(self, name: str, frame: pd.DataFrame, timeout: float) -> bytes:
        return self.renderers[name].render(frame)


def one_round(drawer: Any, frames: dict[str, pd.DataFrame], threads: ThreadPoolExecutor) -> float:
    """20 个图表同时提交，全部画完所用的秒数。"""
    started = time.perf_counter()
    list(threads.map(lambda name: drawer.render(name, frames[name], 60), frames))
    return time.perf_counter() - started


def main() -> None:
    """运行并打印，写入 bench/results.json 的 pool 节。"""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15, help="每种做法的轮数（默认 15）")
    args = parser.parse_args()
    configure_fonts()
    charts = specs()
    frames = {name: DemoSource(seed=index).backfill(299, 1) for index, name in enumerate(charts)}
    drawers: dict[str, Any] = {"in_process": InProcess(charts)}
    pools = {}
    for processes in (1, 2):
        pools[processes] = drawers[f"processes_{processes}"] = RenderPool(charts, processes, 1, [])
        pools[processes].start(60)
    times: dict[str, list[float]] = {name: [] for name in drawers}
    try:
        with ThreadPoolExecutor(CHARTS) as threads:
            for drawer in drawers.values():  # 预热：每个 Figure 画一次（背景缓存）
                one_round(drawer, frames, threads)
            for index in range(args.rounds):
                names = list(drawers)
                for name in names[index % len(names) :] + names[: index % len(names)]:
                    times[name].append(one_round(drawers[name], frames, threads))
    finally:
        for render_pool in pools.values():
            render_pool.shutdown()
    result: dict[str, Any] = {}
    for name, values in times.items():
        result[name] = {"renders_per_second": common.spread([CHARTS / t for t in values]), "round_seconds": common.spread(values)}
    ratio = [a / b for a, b in zip(times["processes_1"], times["processes_2"], strict=True)]
    result["two_vs_one_process"] = common.spread(ratio)
    result["one_process_vs_in_process"] = common.spread(
        [a / b for a, b in zip(times["in_process"], times["processes_1"], strict=True)]
    )
    common.save_results("pool", result)
    print(f"pool: {CHARTS} charts (800x400, 300 points x 2 series) submitted at once, {args.rounds} interleaved rounds")
    print(f"  {'drawing in':16}{'renders/s':>11}{'min':>8}{'max':>8}")
    for name in drawers:
        s = result[name]["renders_per_second"]
        print(f"  {name:16}{s['median']:>11.1f}{s['min']:>8.1f}{s['max']:>8.1f}")
    r = result["two_vs_one_process"]
    print(f"  2 processes / 1 process: {r['median']:.2f}x (per-round {r['min']:.2f}–{r['max']:.2f})")
    r = result["one_process_vs_in_process"]
    print(f"  1 process / in-process: {r['median']:.2f}x (per-round {r['min']:.2f}–{r['max']:.2f})")
    print(f"machine: {common.machine()}")


if __name__ == "__main__":
    main()
