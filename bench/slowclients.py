"""慢客户端攻击与探测（docs/pitfalls.md 第 21 条）：测试与基准共用；python -m bench.slowclients 是基准。

attack() 打开 N 个只发一半请求头、之后每秒一个字节的连接，和 M 个未认证的 POST /scheduler/jobs：
请求头完整、声明的 Content-Length 不超过 MAX_CONTENT_LENGTH，请求体每秒一个字节；同时几个探测者不断发
正常的 GET（每个请求一个新连接，如同新来的浏览器），统计 3 秒内得到 200 的比例。
所有连接只连回环地址，每个连接与整个攻击都有截止时间，结束时全部关闭。
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import redis

from bench.common import free_port
from bench.common import machine
from bench.common import program
from bench.common import save_results
from bench.common import start_redis
from bench.serve import ROOT
from bench.serve import Server
from bench.serve import bench_serve
from bench.serve import gunicorn

# 声明的请求体大小：不超过 MAX_CONTENT_LENGTH（64 KiB），服务器不能一看请求头就拒绝
DECLARED_BODY = 60_000
PROBE_PATHS = ("/plot.png", "/api/charts")


@dataclass
class Outcome:
    """一次攻击的结果。"""

    probes: int = 0
    answered: int = 0  # 3 秒内 200
    latencies: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    slow_open_at_end: int = 0  # 攻击结束时仍然开着的慢连接数（服务器关掉的不算）
    slow_opened: int = 0
    then: Any = None  # attack(then=…) 的返回值

    @property
    def fraction(self) -> float:
        """3 秒内得到回答的比例。"""
        return self.answered / self.probes if self.probes else 0.0

    def summary(self) -> dict[str, float | int | dict[str, int]]:
        """可写进 JSON 的摘要。"""
        ordered = sorted(self.latencies)
        return {
            "probes": self.probes,
            "answered_within_3s": self.answered,
            "fraction": round(self.fraction, 4),
            "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
            "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1) if ordered else None,
            "failures": dict(self.failures),
            "slow_opened": self.slow_opened,
            "slow_open_at_end": self.slow_open_at_end,
        }


async def _slow(host: str, port: int, head: bytes, deadline: float, stop: asyncio.Event, opened: list[int],
                alive: list[int]) -> None:  # fmt: skip
    """发出 head，然后每秒一个字节，直到 stop、截止时间或服务器关闭连接。"""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except (OSError, TimeoutError):
        return
    opened[0] += 1
    try:
        writer.write(head)
        await writer.drain()
        while not stop.is_set() and time.monotonic() < deadline:
            # 服务器若回答或关闭了连接，read 会返回；否则一秒后再发一个字节
            try:
                data = await asyncio.wait_for(reader.read(65536), 1.0)
            except TimeoutError:
                data = None
            if data == b"":
                return
            writer.write(b"a" if head.startswith(b"GET") else b" ")
            await writer.drain()
        alive[0] += 1
    except OSError:
        return
    finally:
        writer.close()


async def _get(host: str, port: int, path: str) -> int:
    """一个新连接上的 GET；返回状态码（读完整个响应）。"""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.read()  # Connection: close：读到对端关闭
        return int(head.split(b" ", 2)[1])
    finally:
        writer.close()


async def _prober(host: str, port: int, until: float, outcome: Outcome, index: int, limit: float) -> None:
    """不断发正常请求，直到 until；每个请求最多等 limit 秒。"""
    i = index
    while time.monotonic() < until:
        path = PROBE_PATHS[i % len(PROBE_PATHS)]
        i += 1
        started = time.monotonic()
        try:
            status = await asyncio.wait_for(_get(host, port, path), limit)
            reason = None if status == 200 else f"status {status}"
        except TimeoutError:
            reason = f"no answer within {limit:g} s"
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            reason = type(exc).__name__
        elapsed = time.monotonic() - started
        outcome.probes += 1
        if reason is None:
            outcome.answered += 1
            outcome.latencies.append(elapsed)
        else:
            outcome.failures[reason] = outcome.failures.get(reason, 0) + 1
        await asyncio.sleep(max(0.0, 0.1 - elapsed))


async def attack(
    host: str,
    port: int,
    *,
    slow_headers: int = 200,
    slow_bodies: int = 200,
    settle: float = 3.0,
    seconds: float = 15.0,
    probers: int = 4,
    limit: float = 3.0,
    then: Callable[[], Any] | None = None,
    then_seconds: float = 15.0,
) -> Outcome:
    """打开慢连接，等 settle 秒让它们占住服务器，再探测 seconds 秒；结束时关闭一切。

    then：探测结束后、慢连接仍开着时在另一个线程里调用（最多 then_seconds 秒），返回值记在 Outcome.then。
    """
    outcome = Outcome()
    opened, alive = [0], [0]
    stop = asyncio.Event()
    deadline = time.monotonic() + settle + seconds + (then_seconds if then is not None else 0)
    header = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nX-Slow: ".encode()
    body = (
        f"POST /scheduler/jobs HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {DECLARED_BODY}\r\n\r\n{{"
    ).encode()
    slow = [asyncio.create_task(_slow(host, port, header, deadline, stop, opened, alive)) for _ in range(slow_headers)]
    slow += [asyncio.create_task(_slow(host, port, body, deadline, stop, opened, alive)) for _ in range(slow_bodies)]
    await asyncio.sleep(settle)
    until = time.monotonic() + seconds
    await asyncio.gather(*(_prober(host, port, until, outcome, n, limit) for n in range(probers)))
    if then is not None:
        outcome.then = await asyncio.wait_for(asyncio.to_thread(then), then_seconds)
    # 仍开着的慢连接：服务器没有关掉的
    outcome.slow_opened = opened[0]
    stop.set()
    await asyncio.wait_for(asyncio.gather(*slow), 10)
    outcome.slow_open_at_end = alive[0]
    return outcome


def run_attack(host: str, port: int, **kwargs: Any) -> Outcome:
    """同步入口。"""
    return asyncio.run(attack(host, port, **kwargs))


def main() -> None:
    """基准：并排测每个进程模型 /charts/demo.png 的吞吐（wrk，多轮交错，每轮的比值），再逐个攻击。

    before：今天的设置（make run-prod 的配置，但 gunicorn -k gthread）；after：make run-prod；
    nginx_front：README 的 nginx 配置在 gthread 前面（装了 nginx 时）；另外，装了 gevent / granian 时也测它们
    （pip install gevent granian，只为对照，不是依赖）。每个服务有自己的 redis-server，所以“攻击期间的渲染次数”
    只算它自己的进程。攻击的最后、慢连接仍开着时向服务发 SIGTERM，记下退出用了多久。
    """
    parser = argparse.ArgumentParser(description=main.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="吞吐的轮数（默认 5）")
    parser.add_argument("--seconds", type=float, default=5, help="每轮每个目标的 wrk 时长（默认 5 秒）")
    parser.add_argument("--attack-seconds", type=float, default=15, help="每次攻击的探测时长（默认 15 秒）")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY（默认 2）")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="livechart-slow-") as tmp:
        workdir = Path(tmp)
        servers: dict[str, Server] = {}
        redis_of: dict[str, tuple[Any, str]] = {}

        def env(name: str) -> dict[str, str]:
            redis_of[name] = start_redis(workdir)
            return {**os.environ, "PYTHONPATH": str(ROOT), "LIVECHART_CONFIG": "production",
                    "LIVECHART_REDIS_URL": redis_of[name][1], "LIVECHART_API_USER": "bench",
                    "LIVECHART_API_PASSWORD": "bench-secret", "WEB_CONCURRENCY": str(args.workers),
                    "LIVECHART_LOG_LEVEL": "warning"}  # fmt: skip

        try:
            servers["after"] = gunicorn("after", "livechart.wsgi:app", env("after"), workdir / "after.log")
            servers["before"] = gunicorn("before", "livechart.wsgi:app", env("before"), workdir / "before.log", ("-k", "gthread"))
            if importlib.util.find_spec("gevent"):
                servers["gevent"] = gunicorn("gevent", "livechart.wsgi:app", env("gevent"), workdir / "gevent.log",
                                             ("-k", "gevent"))  # fmt: skip
            if importlib.util.find_spec("granian"):
                port = free_port()
                command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", str(args.workers),
                           "--blocking-threads", "4", "--port", str(port), "--log-level", "warning", "livechart.wsgi:app"]  # fmt: skip
                servers["granian"] = Server("granian", command, env("granian"), f"http://127.0.0.1:{port}",
                                            workdir / "granian.log")  # fmt: skip
            for server in servers.values():
                server.wait("/readyz")
            nginx = program("nginx")
            if nginx is not None:
                servers["nginx_front"] = _nginx_front(nginx, workdir, servers["before"].url)
                servers["nginx_front"].wait("/readyz")
                redis_of["nginx_front"] = redis_of["before"]
            results: dict[str, Any] = {"workers": args.workers}
            # 吞吐：after 是“livechart”，比值都是 after / 其他
            targets = {
                ("livechart" if name == "after" else name): f"{server.url}/charts/demo.png" for name, server in servers.items()
            }
            print(f"serve: GET /charts/demo.png, x{args.workers} workers, wrk -t2 -c16, {args.rounds} rounds x "
                  f"{args.seconds:g} s, interleaved")  # fmt: skip
            serve = bench_serve(targets, args.rounds, args.seconds, 16)
            results["serve"] = serve
            for name in targets:
                print(f"  {name:12} median {serve[name]['median']:>8.0f} req/s  rounds {serve[name]['values']}")
            for name in list(targets)[1:]:
                r = serve[f"livechart_vs_{name}"]
                print(f"  after / {name}: median {r['median']:.3f}x, per round {r['values']}")
            print(f"attack: 200 slow-header + 200 slow-body sockets, {args.attack_seconds:g} s of probes "
                  "(GET /plot.png, /api/charts, new connection each, answered = 200 within 3 s), then SIGTERM")  # fmt: skip
            results["attack"] = {}
            # nginx_front 在 before 之前：before 受攻击时会被 SIGTERM
            for name in sorted(servers, key=lambda n: n == "before"):
                server, (_, redis_url) = servers[name], redis_of[name]
                version = _version(redis_url)
                then = _renders_then_sigterm(server, redis_url, version, stop=name != "nginx_front")
                outcome = run_attack("127.0.0.1", int(server.url.rsplit(":", 1)[1]), seconds=args.attack_seconds, then=then)
                summary = {**outcome.summary(), **outcome.then}
                results["attack"][name] = summary
                print(f"  {name:12} answered {outcome.answered}/{outcome.probes} = {outcome.fraction:.3f}  "
                      f"p50 {summary['p50_ms']} ms  p99 {summary['p99_ms']} ms  own renders during attack "
                      f"{summary['renders']}  SIGTERM exit {summary.get('exit')} in {summary.get('sigterm_s')} s")  # fmt: skip
            save_results("slowclients", results)
            print(f"machine: {machine()}")
        finally:
            for server in servers.values():
                server.stop()
            for process, _ in redis_of.values():
                if process.poll() is None:
                    process.terminate()
                    process.wait(10)


def _version(redis_url: str) -> int:
    """demo 图表当前的版本号，直接从这个服务自己的 Redis 读（受攻击的服务可能不回答）。"""
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.get("livechart:chart:demo:version") or 0)
    finally:
        client.close()


def _renders_then_sigterm(server: Server, redis_url: str, version: int, stop: bool) -> Callable[[], dict[str, Any]]:
    """攻击结束前（慢连接仍开着）：数一数攻击期间的渲染，然后 SIGTERM 并计时。"""

    def then() -> dict[str, Any]:
        found: dict[str, Any] = {"renders": _version(redis_url) - version}
        if stop:
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            try:
                found["exit"] = server.process.wait(10)
            except subprocess.TimeoutExpired:
                found["exit"] = None
            found["sigterm_s"] = round(time.monotonic() - started, 2)
        return found

    return then


def _nginx_front(nginx: str, workdir: Path, upstream: str) -> Server:
    """README 的 nginx 配置原样放在 upstream 前面（与 tests/test_production.py 一样替换端口与路径）。"""
    snippet = re.search(r"```nginx\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL).group(1)
    port = free_port()
    upstream_port = upstream.rsplit(":", 1)[1]
    conf = (
        snippet.replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("/dev/shm/nginx-livechart", str(workdir / "nginx-cache"))
        .replace("127.0.0.1:8000", f"127.0.0.1:{upstream_port}")
        .replace("127.0.0.1:8001", f"127.0.0.1:{upstream_port}")
    )
    (workdir / "front").mkdir()
    config = workdir / "front" / "nginx.conf"
    config.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {workdir}/front/nginx.pid;\nerror_log {workdir}/front/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {workdir}/front/body;\nproxy_temp_path {workdir}/front/proxy;\n"
        f"{conf}\n}}\n"
    )
    return Server("nginx_front", [nginx, "-p", str(workdir / "front"), "-c", str(config)], dict(os.environ),
                  f"http://127.0.0.1:{port}", workdir / "front" / "stderr.log")  # fmt: skip


if __name__ == "__main__":
    main()
