"""观看者（python -m bench.viewers）：1、10、50、100 个模拟观看者，每人每秒一次刷新。

同一个负载发生器发出浏览器实际发出的请求：
- livechart（make run-prod 的设置，Redis）：页面每秒 GET /charts/cpu.png?t=<毫秒>，每两秒 GET /api/charts；
- Dash（bench/dash_app.py，同样的 gunicorn 设置）：dcc.Interval 每秒 POST /_dash-update-component，
  请求体是 Chromium 对这个应用实际发出的 JSON（用 Playwright 截获），回调为每个观看者重画同一个图表。
报告服务端每个请求的 CPU 时间（服务的全部进程，livechart 还包括 redis-server 和后台重绘）与 p99 延迟。
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import requests

from bench import common
from bench.serve import AUTH
from bench.serve import Server
from bench.serve import gunicorn

LEVELS = (1, 10, 50, 100)
# Chromium 对 bench/dash_app.py 的页面每秒发出的请求体（n_intervals 逐次加一）
DASH_BODY = (
    '{{"output":"chart.src","outputs":{{"id":"chart","property":"src"}},'
    '"inputs":[{{"id":"tick","property":"n_intervals","value":{n}}}],'
    '"changedPropIds":["tick.n_intervals"],"parsedChangedPropsIds":["tick.n_intervals"]}}'
)
DASH_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def livechart_viewer(session: requests.Session, url: str, second: int) -> list[requests.Response]:
    """livechart 的页面在一秒里发出的请求。"""
    responses = [session.get(f"{url}/charts/cpu.png", params={"t": int(time.time() * 1000)}, timeout=30)]
    if second % 2 == 0:
        responses.append(session.get(f"{url}/api/charts", timeout=30))
    return responses


def dash_viewer(session: requests.Session, url: str, second: int) -> list[requests.Response]:
    """Dash 的页面在一秒里发出的请求。"""
    body = DASH_BODY.format(n=second + 1)
    return [session.post(f"{url}/_dash-update-component", data=body, headers=DASH_HEADERS, timeout=30)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """这些进程（及其子进程）用过的 CPU 秒数。"""
    total = 0.0
    seen = set()
    for process in processes:
        try:
            family = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in family:
            if member.pid in seen:
                continue
            seen.add(member.pid)
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system + getattr(times, "children_user", 0) + getattr(times, "children_system", 0)
    return total


def load(viewer: Any, url: str, viewers: int, seconds: float, processes: list[psutil.Process]) -> dict[str, Any]:
    """viewers 个观看者各自每秒刷新一次，持续 seconds 秒；返回每请求 CPU 与延迟。"""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    start = time.monotonic() + 0.5
    end = start + seconds

    def one(offset: float) -> None:
        session = requests.Session()
        second = 0
        while True:
            due = start + offset + second
            if due >= end:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            began = time.perf_counter()
            try:
                responses = viewer(session, url, second)
                ok = all(response.status_code == 200 for response in responses)
            except requests.RequestException:
                responses, ok = [], False
            took = time.perf_counter() - began
            with lock:
                latencies.extend([took / max(1, len(responses))] * max(1, len(responses)))
                failures[0] += 0 if ok else 1
            second += 1

    threads = [threading.Thread(target=one, args=(random.random(),)) for _ in range(viewers)]
    cpu_before = cpu_seconds(processes)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu_used = cpu_seconds(processes) - cpu_before
    requests_done = len(latencies)
    ordered = sorted(latencies)
    return {
        "viewers": viewers,
        "requests": requests_done,
        "failures": failures[0],
        "cpu_ms_per_request": cpu_used * 1000 / max(1, requests_done),
        "p50_ms": ordered[len(ordered) // 2] * 1000 if ordered else None,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else None,
    }


def main() -> None:
    """运行并打印，写入 bench/results.json 的 viewers 节。"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="每个观看者数的时长（默认 10 秒）")
    args = parser.parse_args()
    try:
        import dash  # noqa: F401
    except ImportError:
        print("viewers: skipped (Dash is not installed: .venv/bin/pip install -r bench/requirements.txt)")
        return
    results: dict[str, list[dict[str, Any]]] = {"livechart": [], "dash": []}
    with tempfile.TemporaryDirectory(prefix="livechart-viewers-") as tmp:
        workdir = Path(tmp)
        redis_process, redis_url = common.start_redis(workdir)
        env = {**os.environ, "PYTHONPATH": str(common.RESULTS.parent.parent), "LIVECHART_CONFIG": "production",
               "LIVECHART_REDIS_URL": redis_url, "LIVECHART_API_USER": AUTH[0], "LIVECHART_API_PASSWORD": AUTH[1],
               "WEB_CONCURRENCY": "2", "LIVECHART_LOG_LEVEL": "warning"}  # fmt: skip
        servers: list[Server] = []
        try:
            livechart = gunicorn("livechart", "livechart.wsgi:app", env, workdir / "livechart.log")
            servers.append(livechart)
            dash_server = gunicorn("dash", "bench.dash_app:server", env, workdir / "dash.log")
            servers.append(dash_server)
            livechart.wait("/readyz")
            dash_server.wait("/")
            targets = {
                "livechart": (livechart_viewer, livechart.url, [psutil.Process(livechart.process.pid),
                                                                psutil.Process(redis_process.pid)]),
                "dash": (dash_viewer, dash_server.url, [psutil.Process(dash_server.process.pid)]),
            }  # fmt: skip
            for index, viewers in enumerate(LEVELS):
                order = list(targets) if index % 2 == 0 else list(reversed(targets))
                for name in order:
                    viewer, url, processes = targets[name]
                    results[name].append(load(viewer, url, viewers, args.seconds, processes))
        finally:
            for server in servers:
                server.stop()
            redis_process.terminate()
            redis_process.wait(10)
    ratios = [
        {"viewers": a["viewers"], "cpu_per_request": a["cpu_ms_per_request"] / b["cpu_ms_per_request"]}
        for a, b in zip(results["livechart"], results["dash"], strict=True)
    ]
    common.save_results("viewers", {**results, "livechart_vs_dash": ratios})
    print(f"viewers: each refreshes once a second for {args.seconds:g} s; server CPU per request and latency")
    print(
        f"  {'viewers':>7}  {'livechart ms CPU/req':>21}{'p99 ms':>8}  {'Dash ms CPU/req':>16}{'p99 ms':>9}  {'ratio':>7}  failures"
    )
    for a, b, r in zip(results["livechart"], results["dash"], ratios, strict=True):
        print(f"  {a['viewers']:>7}  {a['cpu_ms_per_request']:>21.2f}{a['p99_ms']:>8.1f}  {b['cpu_ms_per_request']:>16.2f}"
              f"{b['p99_ms']:>9.1f}  {r['cpu_per_request']:>6.3f}x  {a['failures']}/{b['failures']}")  # fmt: skip
    print(f"machine: {common.machine()}")


if __name__ == "__main__":
    main()
