"""启动时间（python -m bench.startup）：从启动进程到第一张图片（/plot.png 返回 200）的秒数。

make run 的做法（python -m livechart，开发配置，默认在本进程绘制）与 make run-prod 的做法（gunicorn + Redis，
默认每个工作进程一个绘制进程），各自的默认设置与别的 LIVECHART_RENDER_PROCESSES；轮流运行多次，报告中位数与范围。
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench import common
from bench.serve import AUTH

ROOT = common.RESULTS.parent.parent


def first_image(command: list[str], env: dict[str, str], port: int, log: Path) -> float:
    """启动命令，轮询 /plot.png，返回第一张图片到达的秒数；之后停止进程。"""
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def arrived() -> float | None:
        if process.poll() is not None:
            raise SystemExit(f"{command} exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/plot.png", timeout=5).status_code == 200:
                return time.perf_counter() - started
        except (requests.ConnectionError, requests.Timeout):
            pass  # 还没有监听，或者连接已被接受、工作进程还在启动（忙的机器上可能超过 5 秒）
        return None

    try:
        return common.wait_until(arrived, 300, f"the first image from {command}", step=0.02)
    finally:
        process.terminate()
        process.wait(15)


def main() -> None:
    """运行并打印，写入 bench/results.json 的 startup 节。"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="每种做法的次数（默认 5）")
    args = parser.parse_args()
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="livechart-startup-") as tmp:
        workdir = Path(tmp)
        redis_process, redis_url = common.start_redis(workdir)
        environ = {name: value for name, value in os.environ.items() if name != "LIVECHART_RENDER_PROCESSES"}
        base = {**environ, "PYTHONPATH": str(ROOT), "LIVECHART_LOG_LEVEL": "warning"}
        prod = {**base, "LIVECHART_CONFIG": "production", "LIVECHART_REDIS_URL": redis_url, "LIVECHART_API_USER": AUTH[0],
                "LIVECHART_API_PASSWORD": AUTH[1], "WEB_CONCURRENCY": "2"}  # fmt: skip
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "python:livechart.gunicorn_config", "livechart.wsgi:app"]
        ways: dict[str, tuple[list[str], dict[str, str]]] = {
            "make run": ([sys.executable, "-m", "livechart"], base),
            "make run, 2 render processes": ([sys.executable, "-m", "livechart"], {**base, "LIVECHART_RENDER_PROCESSES": "2"}),
            "make run-prod (Redis)": (gunicorn, prod),
            "make run-prod, drawing in-process": (gunicorn, {**prod, "LIVECHART_RENDER_PROCESSES": "0"}),
            "make run-prod, 2 render processes": (gunicorn, {**prod, "LIVECHART_RENDER_PROCESSES": "2"}),
        }
        try:
            for _ in range(args.runs):
                for name, (command, env) in ways.items():
                    import redis

                    redis.Redis.from_url(redis_url).flushdb()  # 每次都从空缓存开始（要真正画第一张图）
                    port = common.free_port()
                    seconds = first_image(command, {**env, "LIVECHART_PORT": str(port)}, port, workdir / "startup.log")
                    samples.setdefault(name, []).append(seconds)
        finally:
            redis_process.terminate()
            redis_process.wait(10)
    result: dict[str, Any] = {name: common.spread(values) for name, values in samples.items()}
    common.save_results("startup", result)
    print(f"startup: process start -> first /plot.png 200, empty cache, {args.runs} runs each, interleaved")
    print(f"  {'':36}{'median s':>9}{'min':>7}{'max':>7}")
    for name, s in result.items():
        print(f"  {name:36}{s['median']:>9.2f}{s['min']:>7.2f}{s['max']:>7.2f}")
    print(f"machine: {common.machine()}")


if __name__ == "__main__":
    main()
