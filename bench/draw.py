"""自定义绘图函数（python -m bench.draw）：经过 livechart 画一次的代价、keep=True 的收益、内存、卡住的绘制。

1. 每次重绘的时间，交替测量（同一轮里轮流做，机器的噪声对几方一样）：examples/custom.py 的延迟直方图，
   窗口 60 秒 × 每秒 200 个请求 = 12 000 行：
   - livechart：Renderer.render（复制窗口、清空复用的 Figure、主题样式、画、Pillow 编码，压缩级别为默认的 1）；
   - 手写：每次新建 Figure，调用同一个函数，fig.savefig(BytesIO, format="png")——用户不用 livechart 时会写的代码；
   - livechart，keep=True：同一张图的 latency_histogram_kept（图元建一次，之后只更新）；
   - livechart，PNG 压缩级别 6（与 savefig 相同），看差别有多少来自压缩级别。
   报告每一轮的比值（livechart / 手写）的中位数。目标 ≤ 1.05。
2. 内存：经过 livechart 重绘一个 ax.hist 直方图（本文件的 histogram，每次新建坐标轴与 50 个矩形）--renders 次
   （默认 10 000，先预热 1 000 次），RSS 的增长。目标 ≤ 2 MB。
3. 卡住的绘制（LIVECHART_RENDER_PROCESSES=2）：一个图表的绘图函数卡住，期限 --timeout 秒。
   分给同一个进程的图表要等多久才拿到图（期限 + 换一个新进程），别的进程里的图表那段时间里画一次要多久。
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import threading
import time
from io import BytesIO
from typing import Any

import pandas as pd
import psutil
from matplotlib.figure import Figure

from bench import common
from examples import custom
from livechart.fonts import configure_fonts
from livechart.pool import RenderPool
from livechart.renderer import Renderer
from livechart.spec import parse_chart

SOURCE = {"type": "python", "callable": "examples.custom:latencies", "columns": ["latency_ms"]}


def hang(fig: Any, data: Any) -> None:
    """卡住的绘图函数（第 3 部分；渲染进程按路径 bench.draw:hang 导入）。"""
    time.sleep(3600)


def histogram(fig: Any, data: Any) -> None:
    """第 2 部分重绘一万次的直方图：ax.hist（每次新建 50 个矩形），线性坐标轴。"""
    ax = fig.add_subplot()
    ax.hist(data["latency_ms"].to_numpy(), bins=50, range=(0, 500))
    ax.set_title(f"{len(data)} 个请求")


def quick(fig: Any, data: Any) -> None:
    """一个普通的小图。"""
    fig.add_subplot().plot([1, 3, 2])


def windows(count: int) -> list[pd.DataFrame]:
    """count 个不同的一分钟窗口（每秒 200 个请求）。"""
    return [pd.concat([custom.latencies(seed=start + second) for second in range(60)]) for start in range(count)]


def by_hand(spec: Any, window: pd.DataFrame) -> bytes:
    """不用 livechart：新的 Figure，同一个函数，savefig 到 BytesIO。"""
    fig = Figure(figsize=(spec.width / spec.dpi, spec.height / spec.dpi), dpi=spec.dpi)
    custom.latency_histogram(fig, window, bins=60)
    buffer = BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def per_redraw(rounds: int, repeat: int, frames: list[pd.DataFrame]) -> dict[str, Any]:
    """第 1 部分：交替测量三种做法，每轮每种 repeat 次，取每次的中位数。"""
    plain = parse_chart("latency", {"title": "延迟", "source": SOURCE, "draw": "examples.custom:latency_histogram"})
    kept = parse_chart("latency", {"title": "延迟", "source": SOURCE,
                                   "draw": {"function": "examples.custom:latency_histogram_kept", "keep": True}})  # fmt: skip
    # 手写的 savefig 用 Pillow 默认的 zlib 级别 6，livechart 默认 1（LIVECHART_PNG_COMPRESS_LEVEL）：也量一下级别 6，看差别从哪来
    renderers = {"livechart": Renderer(plain), "livechart, keep=True": Renderer(kept), "livechart, level 6": Renderer(plain, 6)}
    ways = {
        "by hand (fresh Figure + savefig)": lambda frame: by_hand(plain, frame),
        "livechart": renderers["livechart"].render,
        "livechart, keep=True": renderers["livechart, keep=True"].render,
        "livechart, level 6": renderers["livechart, level 6"].render,
    }
    sizes = {name: len(way(frames[0])) for name, way in ways.items()}  # 预热（字体缓存等）
    times: dict[str, list[float]] = {name: [] for name in ways}
    for round_ in range(rounds):
        for name, way in ways.items():
            taken = []
            for index in range(repeat):
                frame = frames[(round_ * repeat + index) % len(frames)]
                started = time.perf_counter()
                way(frame)
                taken.append(time.perf_counter() - started)
            times[name].append(statistics.median(taken) * 1000)
    hand = times["by hand (fresh Figure + savefig)"]
    return {
        "rows": len(frames[0]),
        "ms": {name: common.spread(values) for name, values in times.items()},
        "png_bytes": sizes,
        "livechart_vs_by_hand": statistics.median(a / b for a, b in zip(times["livechart"], hand, strict=True)),
        "keep_vs_by_hand": statistics.median(a / b for a, b in zip(times["livechart, keep=True"], hand, strict=True)),
        "level6_vs_by_hand": statistics.median(a / b for a, b in zip(times["livechart, level 6"], hand, strict=True)),
    }


def memory(renders: int, warm_up: int, frames: list[pd.DataFrame]) -> dict[str, Any]:
    """第 2 部分：重绘 renders 次（先预热 warm_up 次）的 RSS 增长。"""
    renderer = Renderer(parse_chart("latency", {"title": "延迟", "source": SOURCE, "draw": "bench.draw:histogram"}))
    process = psutil.Process()
    for index in range(warm_up):
        renderer.render(frames[index % len(frames)])
    gc.collect()
    before, peak = process.memory_info().rss, 0
    started = time.perf_counter()
    for index in range(renders):
        renderer.render(frames[index % len(frames)])
        if index % 500 == 0:
            peak = max(peak, process.memory_info().rss)
    gc.collect()
    after = process.memory_info().rss
    return {
        "renders": renders,
        "warm_up": warm_up,
        "rss_before_mb": before / 2**20,
        "rss_growth_mb": (after - before) / 2**20,
        "rss_peak_growth_mb": (max(peak, after) - before) / 2**20,
        "seconds": time.perf_counter() - started,
    }


def hung(trials: int, timeout: float) -> dict[str, Any]:
    """第 3 部分：卡住的绘制在渲染进程池里。"""
    specs = {
        "stuck": parse_chart("stuck", {"title": "卡住", "draw": "bench.draw:hang"}),
        "other": parse_chart("other", {"title": "别的进程", "draw": "bench.draw:quick"}),
        "neighbour": parse_chart("neighbour", {"title": "同一个进程", "draw": "bench.draw:quick"}),
    }
    pool = RenderPool(specs, 2, 1, [])
    pool.start(60)
    waits, during, normal = [], [], []
    try:
        for name in ("other", "neighbour"):
            pool.render(name, None, 60)
        for _ in range(trials):
            pool.held.clear()  # 每一次都量卡住的那次绘制本身（之后的节拍里它被暂停送画，邻居不再等）
            normal.append(_timed(lambda: pool.render("other", None, 60)))
            stuck = threading.Thread(target=lambda: _swallow(lambda: pool.render("stuck", None, timeout)))
            stuck.start()
            time.sleep(0.1)
            submitted = time.perf_counter()
            waiting = threading.Thread(target=pool.render, args=("neighbour", None, 60))
            waiting.start()
            while waiting.is_alive():
                during.append(_timed(lambda: pool.render("other", None, 60)))
                time.sleep(0.2)
            stuck.join()
            waits.append(time.perf_counter() - submitted)
    finally:
        pool.shutdown()
    return {
        "timeout_s": timeout,
        "neighbour_waited_s": common.spread(waits),
        "other_process_render_ms_during_the_hang": common.spread([value * 1000 for value in during]),
        "other_process_render_ms_normally": common.spread([value * 1000 for value in normal]),
    }


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _swallow(call: Any) -> None:
    with contextlib.suppress(Exception):  # 就是要它超时
        call()


def main() -> None:
    """运行并打印，写入 bench/results.json 的 draw 节。"""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9, help="交替测量的轮数（默认 9）")
    parser.add_argument("--repeat", type=int, default=20, help="每轮每种做法的重绘次数（默认 20）")
    parser.add_argument("--renders", type=int, default=10_000, help="内存部分计入的重绘次数（默认 10 000）")
    parser.add_argument("--warm-up", type=int, default=1_000, help="内存部分先做的重绘次数（默认 1 000）")
    parser.add_argument("--timeout", type=float, default=2.0, help="卡住的绘制的期限，秒（默认 2）")
    parser.add_argument("--trials", type=int, default=3, help="卡住的绘制试几次（默认 3）")
    parser.add_argument("--parts", default="redraw,memory,hung", help="要跑的部分（默认全部；结果并入上一次的 draw 节）")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    configure_fonts()
    frames = windows(10)
    previous = json.loads(common.RESULTS.read_text()).get("draw", {}) if common.RESULTS.exists() else {}
    result = dict(previous)
    if "redraw" in parts:
        result["redraw"] = redraw = per_redraw(args.rounds, args.repeat, frames)
        print(f"draw: latency histogram, {redraw['rows']} rows, {args.rounds} interleaved rounds of {args.repeat}")
        for name, spread in redraw["ms"].items():
            print(f"  {name:34} {spread['median']:7.2f} ms per redraw  ({redraw['png_bytes'][name]} B)")
        print(f"  livechart / by hand: {redraw['livechart_vs_by_hand']:.3f}x   keep=True / by hand: "
              f"{redraw['keep_vs_by_hand']:.3f}x   level 6 / by hand: {redraw['level6_vs_by_hand']:.3f}x")  # fmt: skip
    if "memory" in parts:
        result["memory"] = memory(args.renders, args.warm_up, frames)
        print(f"  RSS growth over {args.renders} redraws: {result['memory']['rss_growth_mb']:+.2f} MB "
              f"(peak {result['memory']['rss_peak_growth_mb']:+.2f} MB)")  # fmt: skip
    if "hung" in parts:
        result["hung"] = hung_ = hung(args.trials, args.timeout)
        print(f"  hung render, timeout {args.timeout:g} s: the chart sharing its process waited "
              f"{hung_['neighbour_waited_s']['median']:.2f} s (max {hung_['neighbour_waited_s']['max']:.2f} s); "
              f"a chart in the other process drew in {hung_['other_process_render_ms_during_the_hang']['median']:.1f} ms "
              f"(normally {hung_['other_process_render_ms_normally']['median']:.1f} ms)")  # fmt: skip
    common.save_results("draw", result)
    print(f"machine: {common.machine()}")


if __name__ == "__main__":
    main()
