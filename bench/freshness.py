"""提供图片会不会饿死绘制（python -m bench.freshness）。

一个 gunicorn 工作进程（make run-prod 的设置，Redis），wrk 以饱和的负载请求 /charts/demo.png，
同时 demo 图表每秒重绘一次。基准订阅 livechart 的新图通知（Redis 频道 v2:images，见 livechart/keys.py），记下每张新图到达的
时刻，统计 --seconds 秒内跳过的节拍数和相邻两张新图的间隔（p50、p99）。任务按时开始并不说明什么：
服务线程持有 GIL 时，同一进程里的绘制会慢好几倍，新图的间隔才是观看者看到的（docs/pitfalls.md 第 15 条）。
对照：make run-prod 的默认设置（不设 LIVECHART_RENDER_PROCESSES：生产配置每个工作进程一个绘制进程）、
在本进程绘制（=0）与在一个绘制进程里绘制（=1）。
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis

from bench import common
from bench.serve import AUTH
from bench.serve import gunicorn
from livechart import keys

CHART = "demo"
RENDER_LINE = re.compile(r"图表 demo 第 \d+ 版，用时 ([\d.]+) ms")


def percentile(values: list[float], q: float) -> float:
    """线性插值的分位数。"""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def run(processes: int | None, seconds: int, connections: int, workdir: Path, options: tuple[str, ...] = ()) -> dict[str, Any]:
    """一种做法：启动服务，饱和负载下记录 seconds 秒内的新图时刻。processes 为 None 时用配置的默认值。"""
    redis_process, redis_url = common.start_redis(workdir)
    env = {
        **{name: value for name, value in os.environ.items() if name != "LIVECHART_RENDER_PROCESSES"},
        "PYTHONPATH": str(common.RESULTS.parent.parent),
        "LIVECHART_CONFIG": "production",
        "LIVECHART_REDIS_URL": redis_url,
        "LIVECHART_API_USER": AUTH[0],
        "LIVECHART_API_PASSWORD": AUTH[1],
        "WEB_CONCURRENCY": "1",
        "LIVECHART_THREADS": "8",
        **({} if processes is None else {"LIVECHART_RENDER_PROCESSES": str(processes)}),
    }
    log = workdir / f"freshness-{'default' if processes is None else processes}.log"
    server = gunicorn(f"processes={processes}", "livechart.wsgi:app", env, log, options)
    arrivals: list[float] = []
    stop = threading.Event()
    try:
        server.wait("/readyz")
        client = redis.Redis.from_url(redis_url)
        pubsub = client.pubsub()
        pubsub.subscribe("livechart:" + keys.images_channel())

        def listen() -> None:
            while not stop.is_set():
                message = pubsub.get_message(timeout=0.2)
                if message and message["type"] == "message" and message["data"] == CHART.encode():
                    arrivals.append(time.monotonic())

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        wrk = subprocess.Popen([common.program("wrk") or "wrk", "-t2", f"-c{connections}", f"-d{seconds + 5}s",
                                f"{server.url}/charts/{CHART}.png"], stdout=subprocess.PIPE, text=True)  # fmt: skip
        time.sleep(3)  # 负载达到饱和之后再开始计时
        started = time.monotonic()
        time.sleep(seconds)
        ended = time.monotonic()
        output = wrk.communicate(timeout=30)[0]
        stop.set()
        listener.join(5)
        pubsub.close()
        client.close()
    finally:
        server.stop()
        redis_process.terminate()
        redis_process.wait(10)
    window = [t for t in arrivals if started <= t <= ended]
    gaps = [b - a for a, b in itertools.pairwise(window)]
    draw_ms = [float(ms) for ms in RENDER_LINE.findall(log.read_text())]
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    return {
        "render_processes": processes,
        "seconds": seconds,
        "ticks": seconds,
        "new_images": len(window),
        "skipped": max(0, seconds - len(window)),
        "gap_p50_s": percentile(gaps, 0.5) if gaps else None,
        "gap_p99_s": percentile(gaps, 0.99) if gaps else None,
        "gap_max_s": max(gaps) if gaps else None,
        "draw_ms_median": statistics.median(draw_ms) if draw_ms else None,
        "image_requests_per_second": float(rps.group(1)) if rps else None,
    }


def main() -> None:
    """三种做法各跑一次，打印并写入 bench/results.json 的 freshness 节。"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="每种做法计时的秒数（即 1 秒节拍数，默认 60）")
    parser.add_argument("--connections", type=int, default=32, help="wrk 的并发连接数（默认 32）")
    parser.add_argument("--worker-class", help="覆盖 make run-prod 的 gunicorn 工作进程类（对照用，如 gthread）")
    args = parser.parse_args()
    options = ("-k", args.worker_class) if args.worker_class else ()
    if common.program("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    results = {}
    with tempfile.TemporaryDirectory(prefix="livechart-freshness-") as tmp:
        for processes in (None, 0, 1):
            key = "default" if processes is None else f"render_processes_{processes}"
            results[key] = run(processes, args.seconds, args.connections, Path(tmp), options)
    common.save_results("freshness" if not options else f"freshness_{args.worker_class}", results)
    print(f"freshness: 1 s redraws of {CHART!r} under wrk -c{args.connections} on /charts/{CHART}.png, one gunicorn worker, "
          f"{args.seconds} ticks each")  # fmt: skip
    print(f"  {'drawing in':24}{'skipped':>8}{'gap p50':>9}{'gap p99':>9}{'gap max':>9}{'draw ms':>9}{'img req/s':>11}")
    for key, r in results.items():
        label = "default (make run-prod)" if key == "default" else "this process" if r["render_processes"] == 0 else (
            f"{r['render_processes']} render process")  # fmt: skip
        print(f"  {label:24}{r['skipped']:>8}{r['gap_p50_s'] or 0:>8.2f}s{r['gap_p99_s'] or 0:>8.2f}s{r['gap_max_s'] or 0:>8.2f}s"
              f"{r['draw_ms_median'] or 0:>9.1f}{r['image_requests_per_second'] or 0:>11.0f}")  # fmt: skip
    print(f"machine: {common.machine()}")


if __name__ == "__main__":
    main()
