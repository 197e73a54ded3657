"""内存（python -m bench.memory）：默认图表完整重绘（取数据 → 滚动窗口 → 绘制）--renders 次，
RSS 与 Python 对象数在预热之后的增长。目标：10 000 次重绘增长不超过 2 MB（docs/pitfalls.md 第 16 条）。
"""

from __future__ import annotations

import argparse
import gc
import time

import psutil

from bench import common
from config import Config
from livechart.fonts import configure_fonts
from livechart.renderer import Renderer
from livechart.sources import DemoSource
from livechart.spec import parse_chart
from livechart.window import append_window


def main() -> None:
    """运行并打印，写入 bench/results.json 的 memory 节。"""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=int, default=10_000, help="计入的重绘次数（默认 10 000）")
    parser.add_argument("--warm-up", type=int, default=1_000, help="先做的重绘次数（不计入，默认 1 000）")
    args = parser.parse_args()
    configure_fonts()
    name = next(iter(Config.CHARTS))
    spec = parse_chart(name, Config.CHARTS[name])
    renderer = Renderer(spec)
    source = DemoSource(seed=7, period=60)
    window = source.backfill(spec.points - 1, 1)
    process = psutil.Process()

    def redraw() -> None:
        nonlocal window
        rows = source.fetch()
        window = append_window(window, rows, spec.points, spec.span)
        # 把模拟信号映射到默认图表的列上（百分比）
        frame = window.rename(columns=dict(zip(window.columns, (s.column for s in spec.series), strict=False)))
        renderer.render((frame.clip(-1, 1) + 1) * 50)

    for _ in range(args.warm_up):
        redraw()
    gc.collect()
    rss_before, objects_before = process.memory_info().rss, len(gc.get_objects())
    started = time.perf_counter()
    samples = []
    for index in range(args.renders):
        redraw()
        if index % (args.renders // 10 or 1) == 0:
            samples.append(process.memory_info().rss)
    elapsed = time.perf_counter() - started
    gc.collect()
    rss_after, objects_after = process.memory_info().rss, len(gc.get_objects())
    result = {
        "chart": name,
        "renders": args.renders,
        "warm_up": args.warm_up,
        "rss_before_mb": rss_before / 2**20,
        "rss_growth_mb": (rss_after - rss_before) / 2**20,
        "rss_peak_growth_mb": (max([*samples, rss_after]) - rss_before) / 2**20,
        "objects_growth": objects_after - objects_before,
        "seconds": elapsed,
    }
    common.save_results("memory", result)
    print(f"memory: {args.renders} full redraws of {name!r} after {args.warm_up} warm-up redraws ({elapsed:.0f} s)")
    print(f"  RSS {result['rss_before_mb']:.1f} MB -> growth {result['rss_growth_mb']:+.2f} MB "
          f"(peak {result['rss_peak_growth_mb']:+.2f} MB), Python objects {result['objects_growth']:+d}")  # fmt: skip
    print(f"machine: {common.machine()}")


if __name__ == "__main__":
    main()
