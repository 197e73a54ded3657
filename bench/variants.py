"""变体的绘制代价（python -m bench.variants）：2×、暗色、窄版式（手机 2×）与 1× 亮色的默认图相比。

同一个 Renderer、同一份窗口，一轮里把几个变体轮流各画一次（机器的噪声对几方一样），报告每个变体与默认图
每一轮比值的中位数，以及 PNG 的字节数。图表：内置的折线图（本机 CPU 与内存那样的两条线，1 小时窗口、
每秒一个点），和 examples/custom.py 的延迟直方图（draw 函数，每次清空重画）。
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd

from bench import common
from examples import custom
from livechart.fonts import configure_fonts
from livechart.renderer import Renderer
from livechart.spec import parse_chart
from livechart.variants import Variant

VARIANTS = {
    "1x light (default)": Variant(),
    "2x": Variant(scale=2),
    "dark": Variant(theme="dark"),
    "dark 2x": Variant(theme="dark", scale=2),
    "narrow 2x (phone)": Variant(narrow=True, scale=2),
}


def line_chart() -> tuple[Renderer, pd.DataFrame]:
    """内置折线图：两条线、最新值标注、图例，3600 个点。"""
    spec = parse_chart("cpu", {"title": "本机 CPU 与内存使用率", "source": {"type": "demo"}, "unit": "percent",
                               "series": {"signal": "CPU", "walk": "内存"}, "annotate_last": True, "window": 3600})  # fmt: skip
    index = pd.date_range(pd.Timestamp.now().floor("s") - pd.Timedelta(seconds=3599), periods=3600, freq="s")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"signal": 50 + 20 * np.sin(np.arange(3600) / 60), "walk": 40 + rng.normal(0, 1, 3600).cumsum() / 10},
                         index=index)  # fmt: skip
    return Renderer(spec), frame


def histogram_chart() -> tuple[Renderer, pd.DataFrame]:
    """examples/custom.py 的延迟直方图（draw 函数），一分钟、每秒 200 个请求。"""
    spec = parse_chart("latency", custom.Config.CHARTS["latency"])
    index = pd.date_range(pd.Timestamp.now().floor("s") - pd.Timedelta(seconds=60), periods=12000, freq="5ms")
    rng = np.random.default_rng(2)
    return Renderer(spec), pd.DataFrame({"latency_ms": rng.lognormal(3.5, 0.6, 12000)}, index=index)


def measure(renderer: Renderer, frame: pd.DataFrame, rounds: int) -> dict[str, Any]:
    """轮流画每个变体 rounds 轮；返回每个变体的毫秒中位数、与默认图的比值中位数、PNG 字节数。"""
    for variant in VARIANTS.values():  # 预热：每个变体的 Figure 与背景缓存
        renderer.render(frame, variant.theme, variant.scale, narrow=variant.narrow)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    sizes: dict[str, int] = {}
    for _ in range(rounds):
        for name, variant in VARIANTS.items():
            started = time.perf_counter()
            png = renderer.render(frame, variant.theme, variant.scale, narrow=variant.narrow)
            times[name].append((time.perf_counter() - started) * 1000)
            sizes[name] = len(png)
    base = times["1x light (default)"]
    return {
        name: {
            "ms": statistics.median(values),
            "ratio": statistics.median(value / first for value, first in zip(values, base, strict=True)),
            "bytes": sizes[name],
        }
        for name, values in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    configure_fonts()
    results = {"machine": common.machine(), "rounds": args.rounds}
    for label, make in (("built-in line chart", line_chart), ("draw function (latency histogram)", histogram_chart)):
        renderer, frame = make()
        measured = measure(renderer, frame, args.rounds)
        results[label] = measured
        print(f"{label}: median of {args.rounds} interleaved rounds")
        print(f"  {'variant':22}{'ms':>9}{'vs 1x light':>13}{'PNG bytes':>11}")
        for name, row in measured.items():
            print(f"  {name:22}{row['ms']:>9.1f}{row['ratio']:>12.2f}x{row['bytes']:>11,}")
    common.save_results("variants", results)


if __name__ == "__main__":
    main()
