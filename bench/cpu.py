"""默认 cpu 图表在一个核被占满时读到的 CPU：第 1 个点与第 10 个点，以及同一段时间整台机器的实际值（参照）。

issue 9 之前第一个点是 0.0 %（psutil.cpu_percent(None) 的基准按线程记）。用法：python -m bench.cpu
"""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from bench import common

BUSY = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end: pass"


def machine_percent(before: psutil._common.scputimes, after: psutil._common.scputimes) -> float:
    """两次 cpu_times 之间整台机器的使用率（与数据源同一个公式）。"""
    busy = sum(after) - sum(before) - ((after.idle - before.idle) + (after.iowait - before.iowait))
    return 100 * busy / (sum(after) - sum(before))


def main() -> None:
    """占满一个核，启动默认配置的 app，读 cpu 图表前 10 个点。"""
    busy = subprocess.Popen([sys.executable, "-c", BUSY])
    spinner = psutil.Process(busy.pid)
    common.wait_until(lambda: spinner.cpu_times().user >= 0.2, 30, "the busy loop running", step=0.05)  # 等忙循环真正跑起来
    from livechart import create_app
    from livechart import history
    from livechart import shutdown

    def ten_points() -> bool:
        window = history.load("cpu")
        return window is not None and len(window) >= 10

    before, started = psutil.cpu_times(), time.monotonic()
    app = create_app("development")
    try:
        with app.app_context():
            common.wait_until(ten_points, 60, "ten points in the cpu chart", step=0.2)
            after, elapsed = psutil.cpu_times(), time.monotonic() - started
            window = history.load("cpu")
    finally:
        shutdown.stop(app)  # 不用 shutdown(wait=True)：它会与正在进行的重绘互相等待（docs/pitfalls.md 第 43 条）
        busy.kill()
    readings = [round(v, 1) for v in window["cpu"].tolist()[:10]]
    print(f"cpu chart with one of {psutil.cpu_count()} cores held busy: tick 1 = {readings[0]} %, tick 10 = {readings[9]} %")
    print(f"  all ten: {readings}")
    print(f"  reference, the whole machine over the same {elapsed:.0f} s: {machine_percent(before, after):.1f} %")


if __name__ == "__main__":
    main()
