"""提供图片的基准（python -m bench.serve）。每个数字都是同一次运行中并排测得的比值。

1. serve：make run-prod 同样的 gunicorn 设置（ProductionConfig、Redis、WEB_CONCURRENCY 个工作进程）下
   /charts/<name>.png 的每秒请求数，对比同样 gunicorn 设置下返回同样字节的最简 Flask 路由，以及（装了 nginx 时）
   nginx 把同一张 PNG 当作静态文件提供；另有关闭快速路径（LIVECHART_FAST_PATH=False，每个请求都经过 Flask
   视图）的 livechart，以及不开多进程指标（每个工作进程只有自己的指标，bench/per_worker_metrics.py）的
   livechart 作对照。wrk 轮流压每个目标，多轮，报告每轮比值的中位数与范围。
2. soak（--soak-minutes N）：以测得容量的一半持续请求 N 分钟：错误数（目标 0），每个进程的 RSS 增长。

负载发生器 wrk 与服务在同一台 2 核机器上，互相争用 CPU：绝对数字只在同一次运行里有意义。
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import requests

from bench.common import free_port
from bench.common import machine
from bench.common import program
from bench.common import save_results
from bench.common import spread
from bench.common import start_redis
from bench.common import wait_until

ROOT = Path(__file__).resolve().parent.parent
CHART = "demo"
AUTH = ("bench", "bench-secret")


class Server:
    """一个被基准的服务进程（gunicorn 或 nginx）。"""

    def __init__(self, name: str, command: list[str], env: dict[str, str], url: str, log: Path) -> None:
        self.name, self.url, self.log = name, url, log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait(self, path: str) -> None:
        """等到 path 回答 200。"""

        def up() -> bool:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                return requests.get(self.url + path, timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(up, 60, f"{self.name} at {self.url}{path}")

    def processes(self) -> list[psutil.Process]:
        """主进程与全部子进程。"""
        parent = psutil.Process(self.process.pid)
        return [parent, *parent.children(recursive=True)]

    def stop(self) -> None:
        """SIGTERM 并等待。"""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def gunicorn(name: str, app: str, env: dict[str, str], log: Path, options: tuple[str, ...] = (),
             config: str = "livechart.gunicorn_config") -> Server:  # fmt: skip
    """用 make run-prod 的命令和设置启动 gunicorn；options 是追加的命令行选项（如 -k gthread，对照用），
    config 是 gunicorn 设置所在的模块（对照组可以换一个）。"""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", f"python:{config}", *options, app]
    return Server(name, command, {**env, "LIVECHART_PORT": str(port)}, f"http://127.0.0.1:{port}", log)


def nginx(workdir: Path, png: bytes, workers: int) -> Server | None:
    """nginx 把同一张 PNG 当作静态文件提供（与 gunicorn 同样多的工作进程）；没有安装 nginx 时为 None。"""
    path = program("nginx")
    if path is None:
        return None
    (workdir / "static" / "charts").mkdir(parents=True)
    # 只有这个对照组把图片写成文件：nginx 的静态文件就是文件（livechart 本身从不写图片文件）
    (workdir / "static" / "charts" / f"{CHART}.png").write_bytes(png)
    port = free_port()
    config = workdir / "nginx.conf"
    config.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes {workers};\npid {workdir}/nginx.pid;\nerror_log {workdir}/nginx-error.log;\n"
        f"events {{ worker_connections 1024; }}\nhttp {{\naccess_log off;\nclient_body_temp_path {workdir}/body;\n"
        f"server {{ listen 127.0.0.1:{port}; root {workdir}/static; }}\n}}\n"
    )
    return Server("nginx", [path, "-p", str(workdir), "-c", str(config)], dict(os.environ), f"http://127.0.0.1:{port}",
                  workdir / "nginx.log")  # fmt: skip


WRK_LINE = {
    "rps": re.compile(r"Requests/sec:\s+([\d.]+)"),
    "non_2xx": re.compile(r"Non-2xx or 3xx responses:\s+(\d+)"),
    "p99": re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE),
    "requests": re.compile(r"(\d+) requests in"),
}
SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def wrk(url: str, seconds: float, connections: int, script: Path | None = None) -> dict[str, float]:
    """运行 wrk，返回每秒请求数、p99（毫秒）、请求数与错误数。"""
    command = [program("wrk") or "wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> dict[str, float]:
    """wrk 的输出 → 每秒请求数、请求数、错误数、p99（毫秒）。"""
    result = {
        "rps": float(WRK_LINE["rps"].search(output).group(1)),
        "requests": int(WRK_LINE["requests"].search(output).group(1)),
    }
    non_2xx = WRK_LINE["non_2xx"].search(output)
    sockets = SOCKET_ERRORS.search(output)
    result["errors"] = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    p99 = WRK_LINE["p99"].search(output)
    if p99:
        value, unit = float(p99.group(1)), p99.group(2)
        result["p99_ms"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    return result


def bench_serve(targets: dict[str, str], rounds: int, seconds: float, connections: int) -> dict[str, Any]:
    """轮流压每个目标（每轮换一次顺序），返回每个目标的 rps 与每轮的比值。"""
    names = list(targets)
    for name in names:  # 预热：连接、导入、首个请求
        wrk(targets[name], 1, connections)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            samples[name].append(wrk(targets[name], seconds, connections)["rps"])
    result: dict[str, Any] = {name: spread(values) for name, values in samples.items()}
    for other in names[1:]:
        result[f"livechart_vs_{other}"] = spread([a / b for a, b in zip(samples["livechart"], samples[other], strict=True)])
    if {"livechart_per_worker_metrics", "bare_flask"} <= samples.keys():
        # 多进程指标之前的 livechart 对最简 Flask 路由：与 livechart_vs_bare_flask 并排，就是“之前/之后”
        before = zip(samples["livechart_per_worker_metrics"], samples["bare_flask"], strict=True)
        result["per_worker_metrics_vs_bare_flask"] = spread([a / b for a, b in before])
    return result


def rss(servers: list[Server]) -> dict[str, int]:
    """每个进程的 RSS（字节），键为“服务名 pid”。"""
    found = {}
    for server in servers:
        for process in server.processes():
            try:
                found[f"{server.name} {process.pid}"] = process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
    return found


def soak(url: str, rate: float, minutes: float, servers: list[Server], workdir: Path) -> dict[str, Any]:
    """以固定速率（wrk 的 delay()）请求 minutes 分钟；报告错误数、每个进程的 RSS 增长及其随时间的走向。"""
    # 每个连接发一个请求后等 delay 毫秒再发下一个；实际的周期是 delay 加上请求本身与 wrk 的开销，
    # 这个开销由试跑量出来，再据此选连接数（delay 固定为 10 毫秒，wrk 的计时器以毫秒为单位）
    delay_ms = 10
    script = workdir / "pace.lua"
    script.write_text(f"function delay()\n  return {delay_ms}\nend\n")
    connections = max(2, math.ceil(rate * delay_ms / 1000))
    # 先以目标速率跑约 30 秒：导入、缓存、内存池都到稳定状态，再记录起点
    # （速率并不严格与连接数成正比：按比值的平方根调整，差 10 % 以内就停）
    for _ in range(6):
        achieved = wrk(url, 5, connections, script)["rps"]
        if abs(achieved - rate) < 0.1 * rate:
            break
        connections = max(2, round(connections * (rate / achieved) ** 0.5))
    before = rss(servers)
    # wrk 在后台运行；每 30 秒记一次 RSS，看增长是一次性的还是随时间线性上升
    output = workdir / "soak-wrk.txt"
    command = [
        program("wrk") or "wrk",
        "-s",
        str(script),
        "-t2",
        f"-c{connections}",
        f"-d{round(minutes * 60)}s",
        "--latency",
        url,
    ]
    samples: list[tuple[float, dict[str, int]]] = []
    started = time.monotonic()
    with open(output, "w") as out:
        process = subprocess.Popen(command, stdout=out, text=True)
        while process.poll() is None:
            time.sleep(min(30.0, max(0.1, minutes * 60 - (time.monotonic() - started))))
            samples.append((time.monotonic() - started, rss(servers)))
        process.wait()
    result = parse_wrk(output.read_text())
    after = rss(servers)
    growth = {name: after[name] - before[name] for name in before if name in after}
    halfway = next((values for at, values in samples if at >= minutes * 30), after)
    second_half = {name: after[name] - halfway[name] for name in growth if name in halfway}
    return {
        "minutes": minutes,
        "target_rps": rate,
        "achieved_rps": result["rps"],
        "connections": connections,
        "requests": result["requests"],
        "errors": result["errors"],
        "p99_ms": result.get("p99_ms"),
        "rss_before_mb": {name: round(value / 2**20, 1) for name, value in before.items()},
        "rss_growth_mb": {name: round(value / 2**20, 2) for name, value in growth.items()},
        "rss_growth_second_half_mb": {name: round(value / 2**20, 2) for name, value in second_half.items()},
        "rss_samples_mb": [(round(at), {n: round(v / 2**20, 1) for n, v in values.items()}) for at, values in samples],
        "restarted_processes": sorted(set(before) ^ set(after)),
    }


def main() -> None:
    """运行基准并打印表格，写入 bench/results.json 的 serve（与 soak）节。"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="轮数（默认 5）")
    parser.add_argument("--seconds", type=float, default=5, help="每轮每个目标的 wrk 时长（默认 5 秒）")
    parser.add_argument("--connections", type=int, default=16, help="wrk 的并发连接数（默认 16）")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn 工作进程数 WEB_CONCURRENCY（默认 2）")
    parser.add_argument("--soak-minutes", type=float, default=0, help="之后以一半容量持续请求的分钟数（默认 0：不做）")
    args = parser.parse_args()
    if program("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    with tempfile.TemporaryDirectory(prefix="livechart-bench-") as tmp:
        workdir = Path(tmp)
        redis_process, redis_url = start_redis(workdir)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LIVECHART_CONFIG": "production",
            "LIVECHART_REDIS_URL": redis_url,
            "LIVECHART_API_USER": AUTH[0],
            "LIVECHART_API_PASSWORD": AUTH[1],
            "WEB_CONCURRENCY": str(args.workers),
            "LIVECHART_LOG_LEVEL": "warning",
        }
        servers: list[Server] = []
        try:
            livechart = gunicorn("livechart", "livechart.wsgi:app", env, workdir / "livechart.log")
            servers.append(livechart)
            livechart.wait("/readyz")
            source = f"{livechart.url}/charts/{CHART}.png"
            png = requests.get(source, timeout=5).content
            bare = gunicorn("bare_flask", "bench.bare_app:app", {**env, "BARE_SOURCE_URL": source}, workdir / "bare.log")
            servers.append(bare)
            bare.wait(f"/charts/{CHART}.png")
            flask_path = gunicorn("livechart_flask_path", "livechart.wsgi:app",
                                  {**env, "LIVECHART_CONFIG": "bench.configs:FlaskPathConfig"}, workdir / "flask-path.log")  # fmt: skip
            servers.append(flask_path)
            flask_path.wait("/readyz")
            per_worker = gunicorn("livechart_per_worker_metrics", "livechart.wsgi:app", env, workdir / "per-worker.log",
                                  config="bench.per_worker_metrics")  # fmt: skip
            servers.append(per_worker)
            per_worker.wait("/readyz")
            targets = {
                "livechart": source,
                "bare_flask": f"{bare.url}/charts/{CHART}.png",
                "livechart_flask_path": f"{flask_path.url}/charts/{CHART}.png",
                "livechart_per_worker_metrics": f"{per_worker.url}/charts/{CHART}.png",
            }
            static = nginx(workdir, png, args.workers)
            if static is not None:
                servers.append(static)
                static.wait(f"/charts/{CHART}.png")
                targets["nginx_static"] = f"{static.url}/charts/{CHART}.png"
            print(f"serve: GET /charts/{CHART}.png ({len(png)} bytes), make run-prod x{args.workers} workers, "
                  f"wrk -t2 -c{args.connections}, {args.rounds} rounds x {args.seconds:g} s, interleaved")  # fmt: skip
            serve = bench_serve(targets, args.rounds, args.seconds, args.connections)
            serve.update(png_bytes=len(png), workers=args.workers, connections=args.connections)
            save_results("serve", serve)
            print(f"  {'target':30}{'median req/s':>14}{'min':>10}{'max':>10}")
            for name in targets:
                s = serve[name]
                print(f"  {name:30}{s['median']:>14.0f}{s['min']:>10.0f}{s['max']:>10.0f}")
            for name in list(targets)[1:]:
                r = serve[f"livechart_vs_{name}"]
                print(f"  livechart / {name}: {r['median']:.3f}x (per-round {r['min']:.3f}–{r['max']:.3f})")
            r = serve["per_worker_metrics_vs_bare_flask"]
            print(f"  livechart_per_worker_metrics / bare_flask: {r['median']:.3f}x (per-round {r['min']:.3f}–{r['max']:.3f})")
            if args.soak_minutes > 0:
                # 只留下 livechart 与 Redis：对照组不再运行，也不再分担节拍
                for other in (bare, flask_path, per_worker, static):
                    if other is not None:
                        other.stop()
                rate = serve["livechart"]["median"] / 2
                print(f"soak: {rate:.0f} req/s (half the measured capacity) for {args.soak_minutes:g} min ...", flush=True)
                watched = [livechart, _redis_server(redis_process)]
                result = soak(source, rate, args.soak_minutes, watched, workdir)
                tracebacks = livechart.log.read_text().count("Traceback")
                result["tracebacks_in_log"] = tracebacks
                save_results("soak", result)
                print(f"  achieved {result['achieved_rps']:.0f} req/s, {result['requests']} requests, "
                      f"errors {result['errors']}, p99 {result['p99_ms']:.1f} ms, tracebacks in log {tracebacks}")  # fmt: skip
                for name, growth in result["rss_growth_mb"].items():
                    later = result["rss_growth_second_half_mb"].get(name, 0.0)
                    print(f"  RSS {name:24} {result['rss_before_mb'][name]:>8.1f} MB  growth {growth:+.2f} MB "
                          f"(second half {later:+.2f} MB)")  # fmt: skip
                if result["restarted_processes"]:
                    print(f"  processes that came or went: {result['restarted_processes']}")
            print(f"machine: {machine()}")
        finally:
            for server in reversed(servers):
                server.stop()
            redis_process.terminate()
            redis_process.wait(10)


def _redis_server(process: subprocess.Popen) -> Server:
    """把 redis-server 包成 Server，只为了在 soak 里读它的 RSS。"""
    server = Server.__new__(Server)
    server.name, server.url, server.log, server.process = "redis", "", Path(os.devnull), process
    return server


if __name__ == "__main__":
    main()
