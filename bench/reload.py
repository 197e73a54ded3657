"""重新载入配置（python -m bench.reload）：保存之后多久生效，以及监视文件的 CPU 开销。

1. 生效时间：一个临时的配置模块（与 tests/test_reload_server.py 同样的做法），20 次保存，每次把 demo 的间隔在
   2 秒与 3 秒之间切换；从写完文件到 GET /scheduler/jobs/redraw-demo 回答新间隔的秒数（每 ~10 ms 读一次）。
   - make run（python -m livechart）；
   - make run-prod（gunicorn，3 个工作进程，真实的 redis-server）：到三个工作进程都在日志里写下“配置已重新载入”。
2. 监视的开销：在只做这件事的进程里跑一分钟（--minutes 可改）监视线程的循环（每 0.5 秒醒来 stat 一次配置文件，
   文件没变），用进程 CPU 时间外推到一小时、算出占一个核的百分比；对照：同样的唤醒、不 stat 的一分钟；
   以及紧凑循环里一次 poll 本身的 CPU 时间。
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench import common
from bench.serve import AUTH

ROOT = common.RESULTS.parent.parent
MODULE = "bench_reload_config"
CONFIG = """from config import {base}


class Config({base}):
    JOBS = [
        {{"id": "redraw-cpu", "func": "livechart.jobs:redraw", "kwargs": {{"chart": "cpu"}}, "trigger": "interval", "seconds": 2}},
        {{"id": "redraw-demo", "func": "livechart.jobs:redraw", "kwargs": {{"chart": "demo"}}, "trigger": "interval", "seconds": {seconds}}},
    ]
"""
RELOADED = re.compile(r"\[(\d+)\] INFO livechart: 配置已重新载入")


def _percentiles(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {**common.spread(values), "p50": statistics.median(ordered), "p90": ordered[int(0.9 * (len(ordered) - 1))]}


def _seconds(base: str, auth: Any) -> float | None:
    try:
        response = requests.get(base + "/scheduler/jobs/redraw-demo", auth=auth, timeout=2)
    except requests.RequestException:
        return None
    return response.json().get("seconds") if response.status_code == 200 else None


def _edits(path: Path, base_class: str, base: str, auth: Any, edits: int, log: Path | None, workers: int) -> list[float]:
    """edits 次保存，每次到生效的秒数（log 给出时：到 workers 个进程都写下了重新载入的日志）。"""
    delays = []
    for index in range(edits):
        seconds = 3 if index % 2 == 0 else 2
        seen = len(RELOADED.findall(log.read_text())) if log else 0
        time.sleep(0.6)  # 与上一次保存隔开（修改时间不同）
        path.write_text(CONFIG.format(base=base_class, seconds=seconds))
        saved = time.monotonic()

        def done(seconds: int = seconds, seen: int = seen) -> bool:
            if log is not None:
                return len(RELOADED.findall(log.read_text())) >= seen + workers
            return _seconds(base, auth) == seconds

        common.wait_until(done, 10, f"edit {index} applied")
        delays.append(time.monotonic() - saved)
    return delays


def _serve(tmp: Path, command: list[str], env: dict[str, str], base: str, auth: Any) -> tuple[subprocess.Popen, Path]:
    log = tmp / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT)
    common.wait_until(lambda: _seconds(base, auth) == 2, 60, "the server answers")
    return process, log


def latency(edits: int) -> dict[str, Any]:
    """make run 与 make run-prod（3 个工作进程 + Redis）上，保存到生效的秒数。"""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as folder:
        tmp = Path(folder)
        path = tmp / f"{MODULE}.py"
        env_base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), "PYTHONPATH": f"{ROOT}:{tmp}",
                    "PYTHONDONTWRITEBYTECODE": "1", "LIVECHART_CONFIG": f"{MODULE}:Config"}  # fmt: skip
        # make run
        path.write_text(CONFIG.format(base="DevelopmentConfig", seconds=2))
        port = common.free_port()
        base = f"http://127.0.0.1:{port}"
        process, _ = _serve(tmp, [sys.executable, "-m", "livechart"], {**env_base, "LIVECHART_PORT": str(port)}, base, None)
        try:
            results["make run"] = _percentiles(_edits(path, "DevelopmentConfig", base, None, edits, None, 1))
        finally:
            process.terminate()
            process.wait(10)
        # make run-prod：3 个工作进程，共用 Redis
        redis_process, url = common.start_redis(tmp)
        path.write_text(CONFIG.format(base="ProductionConfig", seconds=2))
        port = common.free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**env_base, "LIVECHART_PORT": str(port), "LIVECHART_REDIS_URL": url, "WEB_CONCURRENCY": "3",
               "LIVECHART_API_USER": AUTH[0], "LIVECHART_API_PASSWORD": AUTH[1]}  # fmt: skip
        command = [sys.executable, "-m", "gunicorn", "-c", "python:livechart.gunicorn_config", "livechart.wsgi:app"]
        process, log = _serve(tmp, command, env, base, AUTH)
        try:
            common.wait_until(lambda: log.read_text().count("livechart 配置") >= 3, 30, "three workers")
            results["make run-prod, every one of 3 workers"] = _percentiles(
                _edits(path, "ProductionConfig", base, AUTH, edits, log, 3)
            )
        finally:
            process.terminate()
            process.wait(15)
            redis_process.terminate()
    return results


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def watching_cost(minutes: float) -> dict[str, Any]:
    """监视线程的循环与同样唤醒的空循环，各跑 minutes 分钟，比较进程 CPU 时间。"""
    from livechart import configfile
    from livechart.reload_watch import POLL_SECONDS
    from livechart.reload_watch import Watcher

    with tempfile.TemporaryDirectory(prefix="bench-watch-") as folder:
        path = Path(folder) / f"{MODULE}.py"
        path.write_text(CONFIG.format(base="DevelopmentConfig", seconds=2))
        old = time.time() - 60
        os.utime(path, (old, old))  # 修改时间不“新”：和运行中的服务一样，只 stat
        sys.path.insert(0, folder)
        ref = configfile.locate(f"{MODULE}:Config")
        # 内容没有变：重新载入与报告错误都不会被调用
        reloader = Watcher(ref, configfile.load(ref), reload=lambda data: "applied", fail=lambda message: "failed")
        seconds = minutes * 60

        def run(work: bool) -> float:
            stop = threading.Event()
            threading.Timer(seconds, stop.set).start()
            before = _cpu()
            polls = 0
            while not stop.wait(POLL_SECONDS):
                if work:
                    assert reloader.poll() is None
                polls += 1
            return _cpu() - before

        watching = run(True)
        idle = run(False)
        # 一次 poll 本身（不含唤醒）：紧凑循环里调用很多次取平均
        calls = 20000
        started = time.process_time()
        for _ in range(calls):
            reloader.poll()
        per_poll = (time.process_time() - started) / calls
    return {
        "measured_seconds": seconds,
        "cpu_seconds_watching": round(watching, 4),
        "cpu_seconds_same_wakeups_without_stat": round(idle, 4),
        "cpu_seconds_per_hour": round(watching * 3600 / seconds, 3),
        "percent_of_a_core": round(100 * watching / seconds, 5),
        "poll_microseconds": round(per_poll * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=1.0)
    args = parser.parse_args()
    results = {"latency": latency(args.edits), "watching": watching_cost(args.minutes)}
    for where, figures in results["latency"].items():
        print(f"save → new interval, {where}: p50 {figures['p50']:.3f} s, max {figures['max']:.3f} s ({figures['n']} edits)")
    cost = results["watching"]
    print(
        f"watching: {cost['cpu_seconds_per_hour']:.3f} CPU s per hour ({cost['percent_of_a_core']:.5f} % of a core), "
        f"extrapolated from {cost['measured_seconds']:.0f} s measured ({cost['cpu_seconds_same_wakeups_without_stat']:.4f} s "
        f"for the same wake-ups without the stat); one poll costs {cost['poll_microseconds']:.1f} µs"
    )
    common.save_results("reload", results)


if __name__ == "__main__":
    main()
