"""默认 cpu 图表在一个核被占满时读到的 CPU：第 1 个点与第 10 个点，以及同一段时间整台机器的实际值（参照）。

issue 9 之前第一个点是 0.0 %（psutil.cpu_percent(None) 的基准按线程记）。用法：python -m bench.cpu
"""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

BUSY = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end: pass"


def machine_percent(before: psutil._common.scputimes, after: psutil._common.scputimes) -> float:
    """两次 cpu_times 之间整台机器的使用率（与数据源同一个公式）。"""
    busy = sum(after) - sum(before) - ((after.idle - before.idle) + (after.iowait - before.iowait))
    return 100 * busy / (sum(after) - sum(before))


def main() -> None:
    """占满一个核，启动默认配置的 app，读 cpu 图表前 10 个点。"""
    busy = subprocess.Popen([sys.executable, "-c", BUSY])
    spinner = psutil.Process(busy.pid)
    while spinner.cpu_times().user < 0.2:  # 等忙循环真正跑起来
        time.sleep(0.05)
    from livechart import create_app
    from livechart import history
    from livechart.extensions import scheduler

    before, started = psutil.cpu_times(), time.monotonic()
    app = create_app("development")
    try:
        with app.app_context():
            while (window := history.load("cpu")) is None or len(window) < 10:
                time.sleep(0.2)
            after, elapsed = psutil.cpu_times(), time.monotonic() - started
    finally:
        scheduler.shutdown(wait=True)
        busy.kill()
    readings = [round(v, 1) for v in window["cpu"].tolist()[:10]]
    print(f"cpu chart with one of {psutil.cpu_count()} cores held busy: tick 1 = {readings[0]} %, tick 10 = {readings[9]} %")
    print(f"  all ten: {readings}")
    print(f"  reference, the whole machine over the same {elapsed:.0f} s: {machine_percent(before, after):.1f} %")


if __name__ == "__main__":
    main()
