"""绘制耗时：livechart 复用 Figure 的绘制器 对比 朴素的 pyplot 写法（同一图表、同样的数据）。

两边交替运行（消除机器噪声的漂移），各取 ≥100 次的中位数，报告比值与最小–最大值。
用法：python -m bench.render [--renders N]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from io import BytesIO
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

import livechart  # noqa: F401  先选择 Agg 后端，再导入 pyplot（仅基准使用 pyplot）
from config import Config
from livechart.charts import ChartRenderer
from livechart.fonts import configure_fonts
from livechart.sources import DemoSource
from livechart.spec import parse_chart

RESULTS = Path(__file__).resolve().parent / "results.json"


def naive_pyplot(spec, frame: pd.DataFrame) -> bytes:
    """教程式写法：每次新建 figure、plot、savefig(BytesIO)、close。"""
    fig = plt.figure(figsize=(spec.width / spec.dpi, spec.height / spec.dpi), dpi=spec.dpi)
    ax = fig.add_subplot()
    for column, label in spec.series.items():
        ax.plot(frame.index, frame[column], label=label, linewidth=1.5)
    ax.set_title(spec.title)
    ax.set_ylabel(spec.ylabel)
    ax.grid(True, alpha=0.3)
    if spec.ylim:
        ax.set_ylim(*spec.ylim)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
    ax.legend(loc="upper left", fontsize="small")
    fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.1)
    buffer = BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def summary(samples: list[float]) -> dict[str, float]:
    """毫秒：中位数、最小、最大。"""
    ms = [s * 1000 for s in samples]
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "n": len(ms)}


def main() -> None:
    """运行基准并打印表格，写入 bench/results.json。"""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=int, default=150, help="每种写法的绘制次数（默认 150）")
    args = parser.parse_args()
    configure_fonts()

    # 默认图表（CHARTS 的第一个）的规格；数据用可复现的模拟源填满整个窗口，两边用同样的数据
    name, raw = next(iter(Config.CHARTS.items()))
    spec = parse_chart(name, raw)
    demo = DemoSource(seed=1, period=60, noise=0.1, window=spec.window, step=2)
    frames = []
    for _ in range(args.renders):
        data = demo.fetch()
        frames.append(pd.DataFrame({c: (data["signal"] + 1) * 40 + i * 5 for i, c in enumerate(spec.series)}, index=data.index))

    renderer = ChartRenderer(spec, compress_level=Config.LIVECHART_PNG_COMPRESS_LEVEL)
    # 预热：字体缓存、首次绘制
    renderer.render(frames[0])
    naive_pyplot(spec, frames[0])

    reused, naive, sizes = [], [], {"livechart": 0, "pyplot": 0}
    for frame in frames:
        start = time.perf_counter()
        png = renderer.render(frame)
        reused.append(time.perf_counter() - start)
        sizes["livechart"] = len(png)
        start = time.perf_counter()
        png = naive_pyplot(spec, frame)
        naive.append(time.perf_counter() - start)
        sizes["pyplot"] = len(png)

    result = {
        "chart": name,
        "points": len(frames[-1]),
        "series": len(spec.series),
        "size_px": [spec.width, spec.height],
        "livechart": summary(reused),
        "naive_pyplot": summary(naive),
        "ratio": statistics.median(reused) / statistics.median(naive),
        "png_bytes": sizes,
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
    }
    RESULTS.write_text(json.dumps({"render": result}, indent=2, ensure_ascii=False))
    print(f"render: chart {name!r}, {result['points']} points x {result['series']} series, {spec.width}x{spec.height} px")
    print(f"{'':14}{'median ms':>10}{'min ms':>9}{'max ms':>9}{'PNG bytes':>11}")
    for label, key, size in (("livechart", "livechart", "livechart"), ("naive pyplot", "naive_pyplot", "pyplot")):
        s = result[key]
        print(f"{label:14}{s['median_ms']:>10.2f}{s['min_ms']:>9.2f}{s['max_ms']:>9.2f}{sizes[size]:>11}")
    print(f"ratio livechart / naive pyplot (medians, {args.renders} interleaved renders each): {result['ratio']:.3f}x")


if __name__ == "__main__":
    main()
