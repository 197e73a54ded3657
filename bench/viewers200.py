"""200 个观看者（python -m bench.viewers200）：改页面之前与之后，浏览器发出的请求让服务端花多少 CPU、多少字节。

服务与 make run-prod 相同（gunicorn + ProductionConfig + Redis，WEB_CONCURRENCY=2），图表 cpu（默认配置每 2 秒重绘）。
同一个服务、同一次运行里轮流施加两种请求模型（每种 --seconds 秒，默认 60）：
- BEFORE（1f510eb 的页面）：每个观看者每个间隔无条件 GET /charts/cpu.png?t=<当前毫秒>（new Image()，每次新地址，
  浏览器没有可重新验证的缓存），相位随机；另外每 2 秒 GET /api/charts；
- AFTER（对齐渲染的页面）：每个观看者在预计的下一次渲染时刻（上一版的渲染时刻 + 间隔）之后 --margin-ms 毫秒，
  GET /charts/cpu.png?t=<预计渲染毫秒>，带 If-None-Match: <上一版的 ETag>；304 时每 100 ms 重试，最多 5 次；
  另外每 2 秒 GET /api/charts。上一版的渲染时刻取自响应头 X-Livechart-Rendered-At（毫秒），没有这个头时取自
  观看者自己读到的 /api/charts。
--spread-ms 大于 0 时多测一种 AFTER_SPREAD：每个观看者对齐之后再固定多等 [0, spread) 毫秒（各自的时钟偏差、
网络延迟或页面有意加的抖动），看把同一时刻的 200 个请求摊开有多少用。
另有一段没有观看者的空闲期作基线（后台重绘本身的 CPU）。

报告：服务端 CPU（gunicorn 全部进程与 redis-server，与 bench.viewers 同样计法）每秒多少核；图片与全部请求的
p50/p99 延迟；每个观看者每分钟的字节（图片、/api/charts 分开）；304 个数；每一版新图从渲染到观看者拿到的时间；
每个观看者漏掉的版本。

负载发生器：一个进程里的 asyncio 事件循环（uvloop）+ aiohttp，每个观看者一个协程和自己的连接池（像一个浏览器），
不是每个观看者一个线程。它与服务在同一台 2 核机器上争用 CPU：服务端 CPU 只计服务自己的进程（等待 CPU 的时间
不计入），负载发生器自己的 CPU 与“按计划该发请求时晚了多久”（事件循环跟不上时变大，会抬高测得的延迟）一并报告。
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import requests

from bench import common
from bench.serve import AUTH
from bench.serve import ROOT
from bench.serve import Server
from bench.serve import gunicorn
from bench.viewers import cpu_seconds

VIEWERS = 200
STATUS_POLL_S = 2.0  # 页面读 /api/charts 的周期（两种页面相同）
RETRY_S = 0.1  # AFTER：304 之后隔多久重试
RETRIES = 5
MODELS = ("before", "after", "after_spread")


@dataclass
class Tally:
    """一种模型的全部观看者合计。"""

    image_latencies: list[float] = field(default_factory=list)
    api_latencies: list[float] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)  # 按计划该发请求的时刻 → 真正发出，秒
    freshness: list[float] = field(default_factory=list)  # 新的一版：渲染 → 观看者拿到，秒
    image_bytes: int = 0
    api_bytes: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0
    failure_kinds: dict[str, int] = field(default_factory=dict)  # 异常类型 → 次数
    versions_seen: list[set[int]] = field(default_factory=list)  # 每个观看者拿到过的版本


class Load:
    """一次施加负载：一种请求模型、viewers 个观看者、持续 seconds 秒。"""

    def __init__(self, url: str, chart: str, interval: float, viewers: int, seconds: float, margin: float,
                 spread: float = 0.0) -> None:  # fmt: skip
        self.url, self.chart, self.interval, self.viewers = url, chart, interval, viewers
        # spread：每个观看者固定多等 [0, spread) 秒（像各自的时钟偏差与网络延迟），把对齐后的请求摊开
        self.seconds, self.margin, self.spread = seconds, margin, spread
        self.tally = Tally()
        self.rendered: dict[int, float] = {}  # 版本 → 渲染时刻（全部观看者读到的 /api/charts 与响应头合起来）
        self.start = 0.0
        self.end = 0.0

    async def wait_until(self, due: float) -> None:
        """睡到 due（time.time()）并记下晚了多久。"""
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        self.tally.lateness.append(max(0.0, time.time() - due))

    async def get(
        self, session: Any, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any, bytes] | None:
        """GET；返回 (状态码, 响应头, 响应体)，失败时为 None（计入失败数）。"""
        import aiohttp

        try:
            async with session.get(self.url + path, params=params, headers=headers) as response:
                body = await response.read()
                return response.status, response.headers, body
        except (aiohttp.ClientError, TimeoutError) as error:
            self.tally.failures += 1
            kind = type(error).__name__
            self.tally.failure_kinds[kind] = self.tally.failure_kinds.get(kind, 0) + 1
            return None

    async def image(
        self, session: Any, params: dict[str, Any], headers: dict[str, str], seen: set[int]
    ) -> tuple[int, Any] | None:
        """取一次图片，记延迟、字节、状态；新版本记下从渲染到拿到的时间。"""
        began = time.perf_counter()
        answer = await self.get(session, f"/charts/{self.chart}.png", params, headers)
        if answer is None:
            return None
        status, response_headers, body = answer
        now = time.time()
        if now < self.end:
            self.tally.image_latencies.append(time.perf_counter() - began)
            self.tally.image_bytes += len(body)
            self.tally.statuses[status] = self.tally.statuses.get(status, 0) + 1
        version = response_headers.get("X-Livechart-Version")
        if status == 200 and version is not None:
            version_number = int(version)
            rendered_header = response_headers.get("X-Livechart-Rendered-At")
            if rendered_header:
                self.rendered.setdefault(version_number, int(rendered_header) / 1000)
            if version_number not in seen:
                # 打开页面时的第一张图不算（它的“新”取决于什么时候打开页面）
                first = not seen
                seen.add(version_number)
                rendered = self.rendered.get(version_number)
                if rendered is not None and not first and self.start <= now < self.end:
                    self.tally.freshness.append(now - rendered)
        return status, response_headers

    async def status_poll(self, session: Any, state: dict[str, Any]) -> None:
        """每 2 秒读一次 /api/charts（相位随机），记下这一版的渲染时刻。"""
        due = self.start + random.random() * STATUS_POLL_S
        while due < self.end:
            await self.wait_until(due)
            began = time.perf_counter()
            answer = await self.get(session, "/api/charts", {}, {"Accept": "application/json"})
            if answer is not None:
                status, _headers, body = answer
                if time.time() < self.end:
                    self.tally.api_latencies.append(time.perf_counter() - began)
                    self.tally.api_bytes += len(body)
                if status == 200:
                    for chart in json.loads(body)["charts"]:
                        if chart["name"] == self.chart and chart["rendered_at"]:
                            at = datetime.fromisoformat(chart["rendered_at"]).timestamp()
                            self.rendered.setdefault(chart["version"], at)
                            state["status"] = (chart["version"], at)
            due += STATUS_POLL_S

    async def before_viewer(self, session: Any, seen: set[int]) -> None:
        """1f510eb 的页面：每个间隔无条件取一次 ?t=<当前毫秒>。"""
        due = self.start + random.random() * self.interval
        while due < self.end:
            await self.wait_until(due)
            await self.image(session, {"t": int(time.time() * 1000)}, {}, seen)
            due += self.interval

    async def after_viewer(self, session: Any, seen: set[int], state: dict[str, Any]) -> None:
        """对齐渲染的页面：预计渲染之后条件请求，304 时每 100 ms 重试，最多 5 次。"""
        # 打开页面：相位随机的第一次无条件请求（页面里的 <img src>）
        await self.wait_until(self.start + random.random() * self.interval)
        etag: str | None = None
        jitter = random.random() * self.spread
        rendered_at: float | None = None
        version: int | None = None
        expected = 0.0
        while True:
            if etag is None:
                answer = await self.image(session, {}, {}, seen)
                tries_left = 0
            else:
                answer = await self.image(session, {"t": int(expected * 1000)}, {"If-None-Match": etag}, seen)
                tries_left = RETRIES
                while answer is not None and answer[0] == 304 and tries_left > 0 and time.time() + RETRY_S < self.end:
                    await self.wait_until(time.time() + RETRY_S)
                    answer = await self.image(session, {"t": int(expected * 1000)}, {"If-None-Match": etag}, seen)
                    tries_left -= 1
            if answer is not None and answer[0] == 200:
                headers = answer[1]
                etag = headers.get("ETag") or etag
                version = int(headers["X-Livechart-Version"])
                rendered_header = headers.get("X-Livechart-Rendered-At")
                if rendered_header:
                    rendered_at = int(rendered_header) / 1000
                else:
                    # 没有这个响应头（改页面之前的服务）：用观看者自己读到的 /api/charts，没有时按预计
                    status = state.get("status")
                    rendered_at = (
                        status[1] if status and status[0] == version else self.rendered.get(version, expected or time.time())
                    )
            # 下一次：上一版的渲染时刻 + 间隔（已经过去的跳过）之后 margin
            base = rendered_at if rendered_at is not None else time.time()
            steps = max(1, math.ceil((time.time() - base) / self.interval + 1e-9))
            expected = base + steps * self.interval
            due = expected + self.margin + jitter
            if due >= self.end:
                return
            await self.wait_until(due)

    async def viewer(self, model: str) -> None:
        """一个观看者（自己的连接池，像一个浏览器标签页）。"""
        import aiohttp

        seen: set[int] = set()
        self.tally.versions_seen.append(seen)
        state: dict[str, Any] = {}
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=6)) as session:
            poll = asyncio.create_task(self.status_poll(session, state))
            if model == "before":
                await self.before_viewer(session, seen)
            else:
                await self.after_viewer(session, seen, state)
            await poll

    async def run(self, model: str) -> None:
        """全部观看者一起运行。"""
        self.start = time.time() + 0.5
        self.end = self.start + self.seconds
        await asyncio.gather(*(self.viewer(model) for _ in range(self.viewers)))


def run_model(model: str, load: Load, processes: list[psutil.Process]) -> dict[str, Any]:
    """在一个新的事件循环里施加一种模型的负载；返回服务端 CPU、延迟、字节等。"""
    import uvloop

    me = psutil.Process()
    own_before = sum(me.cpu_times()[:2])
    cpu_before = cpu_seconds(processes)
    wall_before = time.time()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(load.run(model))
    wall = time.time() - wall_before
    cpu_used = cpu_seconds(processes) - cpu_before
    own_used = sum(me.cpu_times()[:2]) - own_before
    return summarize(model, load, cpu_used / wall, own_used / wall, wall)


def pct(values: list[float], fraction: float, scale: float = 1000) -> float | None:
    """最近秩百分位数（默认换算成毫秒）；没有值时为 None。"""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))] * scale


def summarize(model: str, load: Load, server_cores: float, generator_cores: float, wall: float) -> dict[str, Any]:
    """一种模型的结果。"""
    tally = load.tally
    minutes = load.seconds / 60
    requests_done = len(tally.image_latencies) + len(tally.api_latencies)
    # 每个观看者漏掉的版本：窗口里画好（结束前一个间隔加 0.5 秒之前）却没拿到的
    due = {version for version, at in load.rendered.items() if load.start + load.interval <= at < load.end - load.interval - 0.5}
    missed = [len(due - seen) for seen in tally.versions_seen]
    return {
        "model": model,
        "viewers": load.viewers,
        "seconds": load.seconds,
        "server_cores": server_cores,
        "server_cpu_ms_per_request": server_cores * wall * 1000 / max(1, requests_done),
        "generator_cores": generator_cores,
        "image_requests": len(tally.image_latencies),
        "image_requests_per_s": len(tally.image_latencies) / load.seconds,
        "api_requests": len(tally.api_latencies),
        "statuses": {str(key): value for key, value in sorted(tally.statuses.items())},
        "failures": tally.failures,
        "failure_kinds": tally.failure_kinds,
        "image_p50_ms": pct(tally.image_latencies, 0.5),
        "image_p99_ms": pct(tally.image_latencies, 0.99),
        "api_p99_ms": pct(tally.api_latencies, 0.99),
        "all_p99_ms": pct(tally.image_latencies + tally.api_latencies, 0.99),
        "image_bytes_per_viewer_minute": tally.image_bytes / load.viewers / minutes,
        # 完整下载（200）的次数与平均大小：cpu 图的窗口随服务运行越来越满，PNG 变大，后测的模型字节会多一些
        "full_downloads_per_viewer_minute": tally.statuses.get(200, 0) / load.viewers / minutes,
        "mean_png_bytes": tally.image_bytes / max(1, tally.statuses.get(200, 0)),
        "api_bytes_per_viewer_minute": tally.api_bytes / load.viewers / minutes,
        "fresh_p50_ms": pct(tally.freshness, 0.5),
        "fresh_p95_ms": pct(tally.freshness, 0.95),
        "versions_due": len(due),
        "missed_per_viewer_max": max(missed) if missed else None,
        "missed_total": sum(missed),
        "lateness_p99_ms": pct(tally.lateness, 0.99),
    }


def idle(processes: list[psutil.Process], seconds: float) -> float:
    """没有观看者时服务端每秒用多少核（后台重绘与 Redis）。"""
    before = cpu_seconds(processes)
    time.sleep(seconds)
    return (cpu_seconds(processes) - before) / seconds


def table(results: dict[str, Any]) -> list[str]:
    """before / after（与可选的 after_spread）并排，最后一列 after/before。"""
    models = [model for model in MODELS if model in results]
    lines = [f"  {'figure':46}" + "".join(f"{model:>14}" for model in models) + f"{'after/before':>14}"]

    def row(label: str, key: str, digits: int = 1, show_ratio: bool = True) -> None:
        values = [results[model].get(key) for model in models]
        cells = "".join(f"{'—' if value is None else f'{value:,.{digits}f}':>14}" for value in values)
        a, b = results["before"].get(key), results["after"].get(key)
        share = f"{b / a:.2f}x" if show_ratio and a and b is not None else ""
        lines.append(f"  {label:46}{cells}{share:>14}")

    lines.append(f"  {'server CPU, cores, no viewers (baseline)':46}{results['idle_cores']:>14.3f}")
    row("server CPU, cores (gunicorn + redis)", "server_cores", 3)
    row("server CPU, ms per request", "server_cpu_ms_per_request", 2)
    row("image requests per second", "image_requests_per_s", 1)
    for model in models:
        lines.append(f"  {'image responses by status, ' + model:46}  {fmt_status(results[model])}")
    row("image latency p50, ms", "image_p50_ms", 1)
    row("image latency p99, ms", "image_p99_ms", 1)
    row("/api/charts latency p99, ms", "api_p99_ms", 1)
    row("all requests p99, ms", "all_p99_ms", 1)
    row("image bytes per viewer per minute", "image_bytes_per_viewer_minute", 0)
    row("  full downloads (200) per viewer per minute", "full_downloads_per_viewer_minute", 2)
    row("  mean PNG size, bytes", "mean_png_bytes", 0)
    row("/api/charts bytes per viewer per minute", "api_bytes_per_viewer_minute", 0)
    row("new version: render → viewer has it p50, ms", "fresh_p50_ms", 0)
    row("new version: render → viewer has it p95, ms", "fresh_p95_ms", 0)
    row("versions due in the window", "versions_due", 0, show_ratio=False)
    row("versions missed, worst viewer", "missed_per_viewer_max", 0, show_ratio=False)
    row("failed requests", "failures", 0, show_ratio=False)
    row("load generator CPU, cores", "generator_cores", 3)
    row("load generator lateness p99, ms", "lateness_p99_ms", 1)
    return lines


def fmt_status(result: dict[str, Any]) -> str:
    """状态码计数，如 200:1500 304:12000。"""
    return " ".join(f"{code}:{count}" for code, count in result["statuses"].items())


def main() -> None:
    """运行、打印并写入 bench/results.json 的 viewers200 节。"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="每种模型的时长（默认 60 秒）")
    parser.add_argument("--viewers", type=int, default=VIEWERS, help=f"观看者数（默认 {VIEWERS}）")
    parser.add_argument("--chart", default="cpu", help="观看的图表（默认 cpu）")
    parser.add_argument("--margin-ms", type=float, default=50, help="AFTER：预计渲染时刻之后多久请求（默认 50 ms）")
    parser.add_argument("--spread-ms", type=float, default=0,
                        help="大于 0 时多测一种模型 after_spread：每个观看者对齐后再固定多等 [0, spread) 毫秒")  # fmt: skip
    parser.add_argument("--port", type=int, default=0, help="redis-server 的端口，gunicorn 用下一个（默认：空闲端口）")
    args = parser.parse_args()
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        print("viewers200: skipped (aiohttp is not installed: .venv/bin/pip install -r bench/requirements.txt)")
        return
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="livechart-viewers200-") as tmp:
        workdir = Path(tmp)
        redis_process, redis_url = common.start_redis(workdir, args.port)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LIVECHART_CONFIG": "production", "LIVECHART_REDIS_URL": redis_url,
               "LIVECHART_API_USER": AUTH[0], "LIVECHART_API_PASSWORD": AUTH[1], "WEB_CONCURRENCY": "2",
               "LIVECHART_LOG_LEVEL": "warning"}  # fmt: skip
        if args.port:
            port = args.port + 1
            command = [sys.executable, "-m", "gunicorn", "-c", "python:livechart.gunicorn_config", "livechart.wsgi:app"]
            server = Server("livechart", command, {**env, "LIVECHART_PORT": str(port)}, f"http://127.0.0.1:{port}",
                            workdir / "livechart.log")  # fmt: skip
        else:
            server = gunicorn("livechart", "livechart.wsgi:app", env, workdir / "livechart.log")
        try:
            server.wait("/readyz")
            processes = [psutil.Process(server.process.pid), psutil.Process(redis_process.pid)]
            common.wait_until(lambda: any(c["name"] == args.chart and c["version"] > 0
                                          for c in requests.get(f"{server.url}/api/charts", timeout=5).json()["charts"]),
                              30, f"first image of {args.chart}")  # fmt: skip
            status = next(
                c for c in requests.get(f"{server.url}/api/charts", timeout=5).json()["charts"] if c["name"] == args.chart
            )
            interval = float(status["interval"])
            time.sleep(2)  # 工作进程都起来、第一轮渲染之后
            results["idle_cores"] = idle(processes, min(10.0, args.seconds))
            for model in MODELS if args.spread_ms > 0 else MODELS[:2]:
                spread = args.spread_ms / 1000 if model == "after_spread" else 0.0
                load = Load(server.url, args.chart, interval, args.viewers, args.seconds, args.margin_ms / 1000, spread)
                results[model] = run_model("before" if model == "before" else "after", load, processes)
            results["margin_ms"], results["spread_ms"] = args.margin_ms, args.spread_ms
            results["interval_s"] = interval
        finally:
            server.stop()
            redis_process.terminate()
            redis_process.wait(10)
    common.save_results("viewers200", results)
    print(f"viewers200: {args.viewers} viewers of /charts/{args.chart}.png (redrawn every {results['interval_s']:g} s) "
          f"+ /api/charts every {STATUS_POLL_S:g} s, {args.seconds:g} s per model, make run-prod (2 workers, Redis); "
          f"after: {args.margin_ms:g} ms after the expected render"
          + (f", after_spread: + [0, {args.spread_ms:g}) ms per viewer" if args.spread_ms > 0 else ""))  # fmt: skip
    for line in table(results):
        print(line)
    for model in MODELS:
        if results.get(model, {}).get("failure_kinds"):
            print(f"  {model} failures: {results[model]['failure_kinds']}")
    print(f"machine: {common.machine()}")


if __name__ == "__main__":
    main()
