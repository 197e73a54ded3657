"""基准共用的小工具：结果文件、机器状态、空闲端口、等待、redis-server。"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"


def save_results(section: str, data: dict[str, Any]) -> None:
    """把一节结果写进 bench/results.json（保留其他基准写的节）。"""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[section] = data
    results.setdefault("machine", {})[section] = machine()
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False))


def machine() -> dict[str, Any]:
    """运行时的机器状态（共享机器：负载会影响绝对数字，所以只报告比值）。"""
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load": os.getloadavg(),
        "at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def spread(values: list[float]) -> dict[str, Any]:
    """中位数、最小、最大，以及每一轮的值。"""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values),
            "values": [round(value, 3) for value in values]}  # fmt: skip


def free_port() -> int:
    """回环地址上的空闲端口。"""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> Any:
    """每 step 秒轮询一次，直到 predicate 为真，返回它的值；超时抛出 RuntimeError。"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(step)
    raise RuntimeError(f"timed out: {what}")


def program(name: str) -> str | None:
    """程序路径；没有安装时为 None（基准跳过那一项并说明）。"""
    return shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)


def start_redis(workdir: Path, port: int = 0) -> tuple[subprocess.Popen, str]:
    """在 port（0 时为空闲端口）上启动一个不落盘的 redis-server；返回 (进程, URL)。"""
    path = program("redis-server")
    if path is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = port or free_port()
    process = subprocess.Popen(
        [path, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    import redis

    wait_until(lambda: redis.Redis(port=port).ping(), 10, "redis-server")
    time.sleep(0.2)
    if process.poll() is not None:  # 端口已被占用：回答 PING 的是别的 redis-server
        raise SystemExit(f"redis-server could not listen on port {port} (exit status {process.returncode})")
    return process, f"redis://127.0.0.1:{port}/0"
