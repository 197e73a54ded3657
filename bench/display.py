"""显示时延（python -m bench.display）：页面显示每一版新图比它画好晚多久，以及为此下载了多少字节。

同一次运行里并排测两份代码：BEFORE 是基准提交（默认 1f510eb，git worktree add 到临时目录），AFTER 是当前目录。
每份代码各启动一个真实服务（python -m livechart，临时配置模块：图表 fast 每 1 秒、slow 每 2 秒重绘，demo 数据源），
同一个 Chromium（/usr/bin/chromium，1280×900，DPR 1，浅色）里各开一个页面，同时看 N 秒（默认 60），
分成 --loads 次（默认 3）重新打开页面：旧页面的 setInterval 与重绘的相位由打开页面的时刻决定，
只开一次时它的时延是碰运气（同一份旧代码两次运行 p50 可以是 70 ms 或 1.5 s）。

记录：
- 服务端：本脚本每约 50 ms 读一次 /api/charts，得到每一版的 version 与 rendered_at（存进缓存的时刻）；
- 页面里（add_init_script 装的 MutationObserver）：每个图表显示的 img.plot 每次换元素或换 src 的时刻；
  图片还没加载完就放进页面时，以加载完成的时刻为显示时刻。显示的是哪一版：有 data-version 时直接读，
  否则按 src 找这个地址的响应的 X-Livechart-Version（page.on("response")）；
- 页面里每 100 ms 采样一次“更新于”的文字，与显示的那一版的渲染时刻比较；
- 每个图片请求的状态码与响应体字节数（Request.sizes()）。图片请求在收到响应时记下：fetch() 收到 304 时不读
  响应体，Playwright 随后把它报告为失败（net::ERR_ABORTED），不会报告 requestfinished。

报告每个间隔：显示时延（显示时刻 − 渲染时刻，每个显示过的版本一次）p50/p95/最大；每 100 ms 采样的显示图片年龄
（采样时刻 − 显示版本的渲染时刻）p50/p95，以及落后时间（已经有更新的一版时，采样时刻 − 那一版的渲染时刻，
否则为 0）；没有显示的版本数；每个观看者每分钟下载的图片字节、图片请求数与其中 304 的个数、同一版被完整下载
第二次的次数；“更新于”与显示的图片不符的采样数。

时钟：页面的 Date.now() 与服务端的 time.time() 是同一台机器的同一个系统时钟。
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from bench import common
from tests.chromium import CHROMIUM
from tests.chromium import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
BASE = "1f510eb"
# 图表名 → 重绘间隔（秒）
CHARTS = {"fast": 1, "slow": 2}
CONFIG_MODULE = "display_bench_config"
CONFIG_SOURCE = '''"""bench.display 的临时配置：两个 demo 图表，每 1 秒与每 2 秒重绘。"""

from config import DevelopmentConfig


def _job(chart, seconds):
    return {{"id": f"redraw-{{chart}}", "func": "livechart.jobs:redraw", "kwargs": {{"chart": chart}},
             "trigger": "interval", "seconds": seconds}}


class Config(DevelopmentConfig):
    """与开发配置相同，只是图表换成 fast（1 秒）与 slow（2 秒）。"""

    CHARTS = {{
        name: {{"title": f"每 {{seconds}} 秒", "source": {{"type": "demo", "seed": seconds, "period": 60}}, "window": 300}}
        for name, seconds in {charts!r}.items()
    }}
    JOBS = [_job(name, seconds) for name, seconds in {charts!r}.items()]
'''
IMAGE_PATH = re.compile(r"^/charts/([A-Za-z0-9_-]+)[^/]*\.png$")
CLOCK = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})")

# 页面里的记录器：每个图表显示的 img.plot 换了（元素、src 或 data-version）就记一笔；每 100 ms 采样“更新于”
RECORDER = """
(() => {
  const displays = [];  // [显示时刻 ms, 图表名, src, data-version, data-rendered-at, 放进页面的时刻 ms]
  const samples = [];   // [时刻 ms, 图表名, src, data-version, “更新于”的文字]
  const shown = new Map();  // 图表名 → 当前记录的 img 与它的 src/版本
  window.__livechartBench = { displays, samples };
  function current(section) {
    for (const img of section.querySelectorAll("img.plot")) if (img.isConnected) return img;
    return null;
  }
  function key(img) {
    return `${img.currentSrc || img.src}|${img.dataset.version || ""}`;
  }
  function scan() {
    const at = Date.now();
    for (const section of document.querySelectorAll("section.chart[data-name]")) {
      const name = section.dataset.name;
      const img = current(section);
      if (!name || !img) continue;
      const before = shown.get(name);
      if (before && before.img === img && before.key === key(img)) continue;
      shown.set(name, { img, key: key(img) });
      const note = () => displays.push([Math.max(Date.now(), at), name, img.currentSrc || img.src,
                                        img.dataset.version || null, img.dataset.renderedAt || null, at]);
      // 还没加载完就放进页面的图：加载完成（解码）时才算显示出来
      if (img.complete && img.naturalWidth > 0) note();
      else img.addEventListener("load", note, { once: true });
    }
  }
  new MutationObserver(scan).observe(document, {
    subtree: true, childList: true, attributes: true,
    attributeFilter: ["src", "srcset", "data-version", "data-rendered-at"],
  });
  setInterval(() => {
    scan();
    const at = Date.now();
    for (const section of document.querySelectorAll("section.chart[data-name]")) {
      const img = current(section);
      const updated = section.querySelector(".updated");
      samples.push([at, section.dataset.name, img ? img.currentSrc || img.src : null, img ? img.dataset.version || null : null,
                    updated ? updated.textContent : null]);
    }
  }, 100);
})();
"""


class Target:
    """一份被测的代码：它的目录、服务进程、服务端记录的每一版渲染时刻，以及页面与请求记录。"""

    def __init__(self, label: str, tree: Path, port: int, workdir: Path) -> None:
        self.label, self.tree, self.port = label, tree, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / f"{label}.log"
        self.process: subprocess.Popen | None = None
        self.renders: dict[str, dict[int, float]] = {name: {} for name in CHARTS}  # 图表 → 版本 → 渲染时刻（秒）
        self.poll_errors = 0
        self.responses: dict[str, tuple[int | None, float]] = {}  # 图片地址 → (X-Livechart-Version, 收到的时刻)
        self.requests: list[Any] = []  # 完成的图片请求（playwright Request）
        self.api_requests: list[Any] = []
        self.failed_requests = 0
        self.failed_examples: dict[str, int] = {}  # “地址（不含查询） 原因” → 次数
        self.statuses: dict[str, int] = {}  # 图片地址 → 最近一次响应的状态码
        self.aborted_after_304 = 0  # 收到 304 之后被报告为失败的 fetch（不是真的失败）
        self.page_errors: list[str] = []  # 页面脚本的异常与控制台错误（前 20 条）
        self.page: Any = None

    def start(self, config_dir: Path) -> None:
        """在这份代码的目录里启动 python -m livechart。"""
        env = {**os.environ, "PYTHONPATH": str(config_dir), "LIVECHART_CONFIG": f"{CONFIG_MODULE}:Config",
               "LIVECHART_PORT": str(self.port), "LIVECHART_HOST": "127.0.0.1", "LIVECHART_LOG_LEVEL": "warning"}  # fmt: skip
        env.pop("LIVECHART_REDIS_URL", None)
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "livechart"], cwd=self.tree, env=env, stdout=out,
                                            stderr=subprocess.STDOUT)  # fmt: skip

        def ready() -> bool:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.label}: server exited with {self.process.returncode}:\n{self.log.read_text()}")
            body = requests.get(f"{self.url}/api/charts", timeout=2).json()
            return all(chart["version"] > 0 for chart in body["charts"])

        common.wait_until(ready, 60, f"{self.label} server at {self.url}")

    def stop(self) -> None:
        """SIGTERM 并等待。"""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def poll(self, stop: threading.Event) -> None:
        """每约 50 ms 读一次 /api/charts，记下每一版的渲染时刻。"""
        session = requests.Session()
        while not stop.wait(0.05):
            try:
                body = session.get(f"{self.url}/api/charts", timeout=5).json()
            except (requests.RequestException, ValueError):
                self.poll_errors += 1
                continue
            for chart in body["charts"]:
                if chart["name"] in self.renders and chart["rendered_at"]:
                    at = datetime.fromisoformat(chart["rendered_at"]).timestamp()
                    self.renders[chart["name"]].setdefault(chart["version"], at)

    def on_response(self, response: Any) -> None:
        """图片响应：地址 → 版本（旧页面按 src 找它显示的是哪一版）。"""
        path = urlsplit(response.url).path
        if IMAGE_PATH.match(path) or path == "/plot.png":
            version = response.headers.get("x-livechart-version")
            self.responses[response.url] = (int(version) if version else None, time.time())
            # fetch() 收到 304 时不读响应体，Playwright 随后报告 requestfailed（net::ERR_ABORTED），不会有
            # requestfinished：所以图片请求在收到响应时记下（304 也在内）
            self.requests.append(response.request)
            self.statuses[response.url] = response.status

    def on_failed(self, request: Any) -> None:
        """失败（或被中止）的请求：计数，按地址与原因归类。"""
        url = request.url
        if self.statuses.get(url) == 304:
            self.aborted_after_304 += 1
            return
        self.failed_requests += 1
        where = "blob:" if url.startswith("blob:") else urlsplit(url).path
        reason = f"{request.resource_type} {where} {request.failure}"
        self.failed_examples[reason] = self.failed_examples.get(reason, 0) + 1

    def on_finished(self, request: Any) -> None:
        """完成的请求：图片与 /api/charts 分开记。"""
        path = urlsplit(request.url).path
        if path == "/api/charts":
            self.api_requests.append(request)


@contextlib.contextmanager
def worktree(commit: str, path: Path) -> Iterator[Path]:
    """基准提交的 git worktree（用完删除）。"""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), commit], check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)


def percentile(values: list[float], fraction: float) -> float | None:
    """最近秩百分位数；没有值时为 None。"""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def displayed_version(target: Target, src: str | None, data_version: str | None) -> int | None:
    """显示的图片是哪一版：data-version，否则按 src 找响应头。"""
    if data_version:
        return int(data_version)
    if src is None:
        return None
    found = target.responses.get(src)
    return found[0] if found else None


def chart_of(url: str) -> str | None:
    """图片地址 → 图表名（/charts/<name>[变体].png）。"""
    match = IMAGE_PATH.match(urlsplit(url).path)
    return match.group(1) if match else None


def window(target: Target, name: str, interval: float, start: float, end: float, record: dict[str, Any],
           deliveries: list[list[Any]]) -> dict[str, Any]:  # fmt: skip
    """一次打开页面、一个图表在 [start, end) 里的原始数据：显示时延、年龄、落后、漏掉的版本与“更新于”。"""
    renders = target.renders[name]
    # 显示的变化：(时刻 秒, 版本)，按时刻排序；同一版再次换上不算新显示
    changes: list[tuple[float, int | None]] = []
    for at_ms, chart, src, data_version, _rendered_at, _inserted in record["displays"]:
        if chart == name:
            changes.append((at_ms / 1000, displayed_version(target, src, data_version)))
    changes.sort()
    first_shown: dict[int, float] = {}
    unknown = 0
    same_version_swaps = 0
    # data-version 与这张图的地址实际响应的 X-Livechart-Version 不一致（标错了版本，或显示的字节不是那一版）
    mislabelled = 0
    # data-rendered-at 与服务端 /api/charts 的 rendered_at 相差超过 1 ms
    misdated = 0
    for _at_ms, chart, src, data_version, rendered_at, _inserted in record["displays"]:
        found = target.responses.get(src) if src else None
        if chart == name and data_version and found and found[0] is not None and found[0] != int(data_version):
            mislabelled += 1
        if chart == name and data_version and rendered_at and int(data_version) in renders:
            misdated += abs(float(rendered_at) / 1000 - renders[int(data_version)]) > 0.001
    previous: int | None = None
    for at, version in changes:
        if version is None:
            unknown += 1
            continue
        if version == previous:
            same_version_swaps += 1
        first_shown.setdefault(version, at)
        previous = version
    # 每个在窗口里第一次显示的版本：显示时刻 − 渲染时刻
    latencies = [
        (at - renders[version]) * 1000 for version, at in first_shown.items() if start <= at < end and version in renders
    ]
    # 拆开显示时延：渲染 → 发出取到这一版的请求 → 响应收完 → 显示（每个版本取第一个 200 响应）
    fetched: dict[int, tuple[float, float | None]] = {}
    for chart, version, began_ms, end_ms in deliveries:
        if chart == name and began_ms is not None:
            fetched.setdefault(version, (began_ms / 1000, end_ms / 1000 if end_ms is not None else None))
    to_request, in_flight, to_display = [], [], []
    for version, at in first_shown.items():
        if start <= at < end and version in renders and version in fetched:
            began, finished = fetched[version]
            to_request.append((began - renders[version]) * 1000)
            if finished is not None:
                in_flight.append((finished - began) * 1000)
                to_display.append((at - finished) * 1000)
    # 每 100 ms：显示的版本的年龄，和落后（已经有更新的一版多久了）
    ages, lags = [], []
    ordered_renders = sorted(renders.items())
    step = 0.1
    index = 0
    shown_version: int | None = None
    known_changes = [(at, version) for at, version in changes if version is not None]
    moment = start
    while moment < end:
        while index < len(known_changes) and known_changes[index][0] <= moment:
            shown_version = known_changes[index][1]
            index += 1
        if shown_version is not None and shown_version in renders:
            ages.append((moment - renders[shown_version]) * 1000)
            newer = [at for version, at in ordered_renders if version > shown_version and at <= moment]
            lags.append((moment - min(newer)) * 1000 if newer else 0.0)
        moment += step
    # 没有显示的版本：窗口开始之后、结束前一个间隔（加 0.5 秒）之前画好的
    due = [version for version, at in renders.items() if start <= at < end - interval - 0.5]
    missed = [version for version in due if version not in first_shown]
    # 轮询没看到的版本（版本号的空洞；1 秒以上的间隔不应出现）
    versions = sorted(renders)
    holes = sum(b - a - 1 for a, b in itertools.pairwise(versions) if b - a > 1)
    # 服务端相邻两版渲染时刻的间隔（画图耗时的抖动让它偏离任务间隔；页面按上一版的渲染时刻 + 间隔对准）
    gaps = [(renders[b] - renders[a]) * 1000 for a, b in itertools.pairwise(versions) if b == a + 1 and start <= renders[b] < end]
    # “更新于”：采样里的 HH:MM:SS 与显示的那一版的渲染时刻（UTC）是否一致
    agree = disagree = unreadable = 0
    for at_ms, chart, src, data_version, text in record["samples"]:
        if chart != name or not start <= at_ms / 1000 < end:
            continue
        version = displayed_version(target, src, data_version)
        match = CLOCK.search(text or "")
        if version is None or version not in renders or match is None:
            unreadable += 1
            continue
        # 页面拿到的渲染时刻精确到毫秒：响应头四舍五入，Date.parse 截断；离整秒不到 1 ms 时两种写法都算对
        candidates = {datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")
                      for at in (renders[version], round(renders[version] * 1000) / 1000)}  # fmt: skip
        if f"{int(match.group(1)):02d}:{match.group(2)}:{match.group(3)}" in candidates:
            agree += 1
        else:
            disagree += 1
    return {
        "versions_rendered": len(due), "versions_missed": len(missed), "poll_holes": holes, "unknown_displays": unknown,
        "same_version_swaps": same_version_swaps, "mislabelled_displays": mislabelled, "misdated_displays": misdated,
        "agree": agree, "disagree": disagree, "unreadable": unreadable,
        "latencies": latencies, "to_request": to_request, "in_flight": in_flight, "to_display": to_display, "ages": ages,
        "lags": lags, "gaps": gaps,
    }  # fmt: skip


def analyse(target: Target, name: str, interval: float, windows: list[tuple[float, float, dict[str, Any]]],
            deliveries: list[list[Any]]) -> dict[str, Any]:  # fmt: skip
    """一个图表在每次打开页面的窗口里的数据合起来：百分位数与计数。"""
    parts = [window(target, name, interval, start, end, record, deliveries) for start, end, record in windows]

    def joined(key: str) -> list[float]:
        return [value for part in parts for value in part[key]]

    def total(key: str) -> int:
        return sum(part[key] for part in parts)

    latencies, to_request, ages, lags = joined("latencies"), joined("to_request"), joined("ages"), joined("lags")
    in_flight, to_display = joined("in_flight"), joined("to_display")
    per_load = [{"p50": percentile(part["latencies"], 0.5), "p95": percentile(part["latencies"], 0.95)} for part in parts]
    return {
        "interval_s": interval,
        "versions_rendered": total("versions_rendered"),
        "versions_shown": len(latencies),
        "versions_missed": total("versions_missed"),
        "poll_holes": max((part["poll_holes"] for part in parts), default=0),
        "unknown_displays": total("unknown_displays"),
        "same_version_swaps": total("same_version_swaps"),
        "mislabelled_displays": total("mislabelled_displays"),
        "misdated_displays": total("misdated_displays"),
        "latency_ms": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
                       "max": max(latencies) if latencies else None, "mean": statistics.fmean(latencies) if latencies else None},
        "latency_per_load_ms": per_load,
        "render_to_request_ms": {"p50": percentile(to_request, 0.5), "p95": percentile(to_request, 0.95),
                                 "min": min(to_request) if to_request else None},
        "request_to_response_end_ms": {"p50": percentile(in_flight, 0.5), "p95": percentile(in_flight, 0.95)},
        "response_end_to_display_ms": {"p50": percentile(to_display, 0.5), "p95": percentile(to_display, 0.95)},
        "age_ms": {"p50": percentile(ages, 0.5), "p95": percentile(ages, 0.95), "samples": len(ages)},
        "lag_ms": {"p50": percentile(lags, 0.5), "p95": percentile(lags, 0.95), "max": max(lags) if lags else None},
        "render_gap_ms": {"p5": percentile(joined("gaps"), 0.05), "p50": percentile(joined("gaps"), 0.5),
                          "p95": percentile(joined("gaps"), 0.95)},
        "updated_text": {"agree": total("agree"), "disagree": total("disagree"), "unreadable": total("unreadable")},
    }  # fmt: skip


def traffic(target: Target, windows: list[tuple[float, float]], loads: list[float]) -> dict[str, Any]:
    """窗口里的图片请求：每个图表的请求数、304 数、响应体字节、同一次打开页面里重复完整下载同一版的次数。

    loads 是每次打开页面的时刻：新打开的页面重新下载显示着的那一版是应该的，不算重复。
    """

    def inside(moment: float) -> bool:
        return any(start <= moment < end for start, end in windows)

    def load_of(moment: float) -> int:
        return sum(1 for at in loads if at <= moment)

    per_chart: dict[str, dict[str, Any]] = {
        name: {"requests": 0, "not_modified": 0, "other_status": 0, "body_bytes": 0, "header_bytes": 0, "repeat_downloads": 0,
               "longest_304_run": 0, "run": 0,
               "variants": {}} for name in CHARTS
    }  # fmt: skip
    downloaded: dict[tuple[int, str], set[int]] = {}
    # 每个 200 的图片响应：[图表, 版本, 请求开始 ms, 响应结束 ms]（拆分显示时延用）
    deliveries: list[list[Any]] = []
    rows = []
    for request in target.requests:
        response = request.response()
        timing = request.timing
        try:
            finished = request.sizes()
        except Exception:
            # 304 之后被中止的 fetch 没有大小信息（响应体为 0）
            finished = {}
        began = timing.get("startTime", 0) / 1000
        rows.append((began, request, response, finished, timing))
    rows.sort(key=lambda row: row[0])
    for began, request, response, sizes, timing in rows:
        name = chart_of(request.url)
        if name not in per_chart or response is None:
            continue
        version_header = response.headers.get("x-livechart-version")
        version = int(version_header) if version_header else None
        if response.status == 200 and version is not None:
            end_ms = timing["startTime"] + timing["responseEnd"] if timing.get("responseEnd", -1) >= 0 else None
            deliveries.append([name, version, timing.get("startTime"), end_ms])
            # 同一次打开页面里再次完整下载同一版：整个打开期间都算（包括计时窗口之前的第一张图）
            seen = downloaded.setdefault((load_of(began), name), set())
            if version in seen:
                per_chart[name]["repeat_downloads"] += 1
            seen.add(version)
        if not inside(began):
            continue
        row = per_chart[name]
        row["requests"] += 1
        path = urlsplit(request.url).path
        row["variants"][path] = row["variants"].get(path, 0) + 1
        if response.status == 304:
            row["not_modified"] += 1
            # 连续几次 304 才拿到新的一版（页面每个节拍最多重试几次，用完就等下一个节拍）
            row["run"] += 1
            row["longest_304_run"] = max(row["longest_304_run"], row["run"])
        else:
            row["run"] = 0
        if response.status not in (200, 304):
            row["other_status"] += 1
        row["body_bytes"] += sizes.get("responseBodySize", 0)
        row["header_bytes"] += sizes.get("responseHeadersSize", 0)
    api = {"requests": 0, "body_bytes": 0}
    for request in target.api_requests:
        began = request.timing.get("startTime", 0) / 1000
        if inside(began):
            api["requests"] += 1
            api["body_bytes"] += request.sizes().get("responseBodySize", 0)
    for row in per_chart.values():
        del row["run"]
    minutes = sum(end - start for start, end in windows) / 60
    total_body = sum(row["body_bytes"] for row in per_chart.values())
    return {"charts": per_chart, "api": api, "image_body_bytes_per_minute": total_body / minutes,
            "api_body_bytes_per_minute": api["body_bytes"] / minutes, "failed_requests": target.failed_requests,
            "aborted_after_304": target.aborted_after_304,
            "failed_kinds": target.failed_examples, "deliveries": deliveries}  # fmt: skip


def run(targets: list[Target], seconds: float, warmup: float, loads: int) -> dict[str, Any]:
    """同一个 Chromium 里各开一个页面，同时看 seconds 秒（分 loads 次打开页面）；返回每份代码的记录。"""
    from playwright.sync_api import sync_playwright

    stop = threading.Event()
    pollers = [threading.Thread(target=target.poll, args=(stop,), daemon=True) for target in targets]
    for poller in pollers:
        poller.start()
    results: dict[str, Any] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for target in targets:
                context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1,
                                              timezone_id="UTC", color_scheme="light", locale="zh-CN")  # fmt: skip
                context.add_init_script(RECORDER)
                page = context.new_page()
                page.on("response", target.on_response)
                page.on("requestfinished", target.on_finished)
                page.on("requestfailed", target.on_failed)
                page.on("pageerror", lambda error, target=target: target.page_errors.append(f"pageerror: {error}"))
                page.on("console", lambda message, target=target: message.type == "error"
                        and target.page_errors.append(f"console: {message.text}"))  # fmt: skip
                target.page = page
            windows: dict[str, list[tuple[float, float, dict[str, Any]]]] = {target.label: [] for target in targets}
            # 每个页面各自的打开时刻：在它自己的 goto 之前记下。共用一个时刻的话，第二个页面的旧文档在第一个页面
            # 加载期间发出的请求会算进新的一次打开，新页面第一次下载同一版就被误算成“重复下载”
            opened: dict[str, list[float]] = {target.label: [] for target in targets}
            for _ in range(loads):
                # 每次重新打开页面：旧页面的 setInterval 相位随打开的时刻而定，几次打开才不是碰运气
                for target in targets:
                    opened[target.label].append(time.time())
                    target.page.goto(target.url + "/")
                # 预热：两个图表都显示过一版之后再开始计时
                common.wait_until(
                    lambda: all(
                        target.page.evaluate("new Set(window.__livechartBench.displays.map(d => d[1])).size") >= len(CHARTS)
                        for target in targets
                    ),
                    30,
                    "every chart shown once on every page",
                    step=0.2,
                )
                targets[0].page.wait_for_timeout(warmup * 1000)
                start = time.time()
                targets[0].page.wait_for_timeout(seconds / loads * 1000)
                end = time.time()
                # 再等一个最长间隔，让窗口末尾画好的版本有机会显示（只统计窗口里的）
                targets[0].page.wait_for_timeout((max(CHARTS.values()) + 0.5) * 1000)
                for target in targets:
                    windows[target.label].append((start, end, target.page.evaluate("window.__livechartBench")))
            for target in targets:
                visible = target.page.evaluate("document.visibilityState")
                spans = [(start, end) for start, end, _record in windows[target.label]]
                flow = traffic(target, spans, opened[target.label])
                results[target.label] = {
                    "tree": str(target.tree),
                    "visibility": visible,
                    "traffic": flow,
                    "charts": {
                        name: analyse(target, name, interval, windows[target.label], flow["deliveries"])
                        for name, interval in CHARTS.items()
                    },
                    "poll_errors": target.poll_errors,
                    "page_errors": len(target.page_errors),
                    "page_error_examples": target.page_errors[:20],
                    "seconds": sum(end - start for start, end in spans),
                    "loads": loads,
                }
            browser.close()
    finally:
        stop.set()
        for poller in pollers:
            poller.join(5)
    return results


def ratio(after: float | None, before: float | None) -> str:
    """after / before，不能算时为 —。"""
    if after is None or before is None or before == 0:
        return "—"
    return f"{after / before:.2f}x"


def number(value: float | None, digits: int = 0) -> str:
    """数字或 —。"""
    return "—" if value is None else f"{value:,.{digits}f}"


def table(results: dict[str, Any]) -> list[str]:
    """before / after 并排的表（每个间隔一组行）。"""
    before, after = results["before"], results["after"]
    lines = [f"  {'figure':44}{'before':>12}{'after':>12}{'after/before':>14}"]

    def row(label: str, get: Any, digits: int = 0, show_ratio: bool = True) -> None:
        a, b = get(before), get(after)
        lines.append(f"  {label:44}{number(a, digits):>12}{number(b, digits):>12}{ratio(b, a) if show_ratio else '':>14}")

    for name, interval in CHARTS.items():
        lines.append(f"  -- {name}: redrawn every {interval} s")
        chart = lambda r, n=name: r["charts"][n]  # noqa: E731
        flow = lambda r, n=name: r["traffic"]["charts"][n]  # noqa: E731
        row("display latency p50, ms", lambda r, c=chart: c(r)["latency_ms"]["p50"])
        row("display latency p95, ms", lambda r, c=chart: c(r)["latency_ms"]["p95"])
        row("display latency max, ms", lambda r, c=chart: c(r)["latency_ms"]["max"])
        for label, r in (("before", before), ("after", after)):
            loads = " / ".join(number(load["p50"]) for load in r["charts"][name]["latency_per_load_ms"])
            lines.append(f"  {'  latency p50 of each page load, ' + label:44}{loads:>24}")
        row("  render → request for it p50, ms", lambda r, c=chart: c(r)["render_to_request_ms"]["p50"], show_ratio=False)
        row("  render → request for it p95, ms", lambda r, c=chart: c(r)["render_to_request_ms"]["p95"], show_ratio=False)
        row("  request → response end p50, ms", lambda r, c=chart: c(r)["request_to_response_end_ms"]["p50"], show_ratio=False)
        row("  response end → displayed p50, ms", lambda r, c=chart: c(r)["response_end_to_display_ms"]["p50"], show_ratio=False)
        row("  response end → displayed p95, ms", lambda r, c=chart: c(r)["response_end_to_display_ms"]["p95"], show_ratio=False)
        row("displayed image age p50, ms (every 100 ms)", lambda r, c=chart: c(r)["age_ms"]["p50"])
        row("displayed image age p95, ms", lambda r, c=chart: c(r)["age_ms"]["p95"])
        row("behind a newer version p50, ms", lambda r, c=chart: c(r)["lag_ms"]["p50"], show_ratio=False)
        row("behind a newer version p95, ms", lambda r, c=chart: c(r)["lag_ms"]["p95"])
        row("server: gap between renders p5, ms", lambda r, c=chart: c(r)["render_gap_ms"]["p5"], show_ratio=False)
        row("server: gap between renders p95, ms", lambda r, c=chart: c(r)["render_gap_ms"]["p95"], show_ratio=False)
        row("versions rendered in the window", lambda r, c=chart: c(r)["versions_rendered"], show_ratio=False)
        row("versions missed (never shown)", lambda r, c=chart: c(r)["versions_missed"], show_ratio=False)
        row("image requests", lambda r, f=flow: f(r)["requests"])
        row("  of which 304", lambda r, f=flow: f(r)["not_modified"], show_ratio=False)
        row("  longest run of 304s", lambda r, f=flow: f(r)["longest_304_run"], show_ratio=False)
        row("  a version downloaded again (200, any time)", lambda r, f=flow: f(r)["repeat_downloads"], show_ratio=False)
        row("image bytes per minute", lambda r, f=flow: f(r)["body_bytes"] * 60 / r["seconds"])
        row("swaps to the version already shown (any time)", lambda r, c=chart: c(r)["same_version_swaps"], show_ratio=False)
        row("data-version ≠ version of the bytes shown", lambda r, c=chart: c(r)["mislabelled_displays"], show_ratio=False)
        row("data-rendered-at ≠ server's rendered_at", lambda r, c=chart: c(r)["misdated_displays"], show_ratio=False)
        row("“更新于” ≠ displayed image (samples)", lambda r, c=chart: c(r)["updated_text"]["disagree"], show_ratio=False)
        row("“更新于” = displayed image (samples)", lambda r, c=chart: c(r)["updated_text"]["agree"], show_ratio=False)
    lines.append("  -- the whole page (one viewer)")
    row("image bytes per viewer per minute", lambda r: r["traffic"]["image_body_bytes_per_minute"])
    row("/api/charts bytes per viewer per minute", lambda r: r["traffic"]["api_body_bytes_per_minute"])
    row("/api/charts requests", lambda r: r["traffic"]["api"]["requests"])
    row("failed requests", lambda r: r["traffic"]["failed_requests"], show_ratio=False)
    row("fetch()es aborted after a 304 (not failures)", lambda r: r["traffic"]["aborted_after_304"], show_ratio=False)
    row("page script errors (console/pageerror)", lambda r: r["page_errors"], show_ratio=False)
    return lines


def main() -> None:
    """运行、打印并写入 bench/results.json 的 display 节。"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="看页面的时长（默认 60 秒）")
    parser.add_argument("--warmup", type=float, default=3, help="两张图都显示之后、开始计时之前再等的秒数（默认 3）")
    parser.add_argument("--loads", type=int, default=3,
                        help="把 --seconds 分给几次重新打开页面（默认 3；旧页面的刷新相位每次不同）")  # fmt: skip
    parser.add_argument("--base", default=BASE, help=f"BEFORE 的提交（默认 {BASE}，改页面之前）")
    parser.add_argument("--port", type=int, default=0, help="BEFORE 服务的端口，AFTER 用下一个（默认：空闲端口）")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"display: skipped ({CHROMIUM} is not installed)")
        return
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    base = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="livechart-display-") as tmp:
        workdir = Path(tmp)
        config_dir = workdir / "config"
        config_dir.mkdir()
        (config_dir / f"{CONFIG_MODULE}.py").write_text(CONFIG_SOURCE.format(charts=CHARTS))
        ports = (args.port, args.port + 1) if args.port else (common.free_port(), common.free_port())
        with worktree(args.base, workdir / "before") as before_tree:
            targets = [Target("before", before_tree, ports[0], workdir), Target("after", ROOT, ports[1], workdir)]
            try:
                for target in targets:
                    target.start(config_dir)
                results = run(targets, args.seconds, args.warmup, args.loads)
            finally:
                for target in targets:
                    target.stop()
    results["commits"] = {"before": base, "after": head}
    common.save_results("display", results)
    print(f"display: Chromium 1280x900 DPR 1, both pages side by side for {args.seconds:g} s in {args.loads} page loads; before = {base}, after = {head} "
          f"(+ local changes)" if subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", "HEAD"]).returncode else
          f"display: Chromium 1280x900 DPR 1, both pages side by side for {args.seconds:g} s in {args.loads} page loads; before = {base}, after = {head}")  # fmt: skip
    for line in table(results):
        print(line)
    for label in ("before", "after"):
        paths = {
            path: count for chart in results[label]["traffic"]["charts"].values() for path, count in chart["variants"].items()
        }
        print(f"  {label} image paths requested: {paths}; page {results[label]['visibility']}")
        for kind, count in results[label]["traffic"]["failed_kinds"].items():
            print(f"  {label} failed request ×{count}: {kind[:160]}")
        for example in results[label]["page_error_examples"][:3]:
            print(f"  {label} page error: {example[:200]}")
    print(f"machine: {common.machine()}")


if __name__ == "__main__":
    main()
