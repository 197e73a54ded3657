"""重绘任务：数据源 → 滚动窗口 → 绘制 → 缓存。调度器按间隔调用 redraw(chart)。

每个图表的状态（数据源、复用的 Figure、重绘锁）放在 app.extensions["livechart"] 中，
和 Flask-Caching 一样，一个扩展对象可服务多个 app。滚动窗口所有进程共用一份（history.py）：
取数的只有图表的所有者（coordination.py），它把新行写进共享的窗口，再用本进程的副本绘制；
别的进程在缓存未命中时用共享的窗口绘制、不取数，窗口不会分叉。写不进去的新行留在本进程、之后补写，一行也不丢。
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pandas as pd
from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.events import JobEvent
from flask import Flask
from flask import current_app
from flask import has_request_context

from livechart import coordination
from livechart import history
from livechart import keys
from livechart import metrics
from livechart import store
from livechart import variants
from livechart.deadline import Deadline
from livechart.deadline import StillRunning
from livechart.deadline import Stopping
from livechart.demand import Demand
from livechart.extensions import scheduler
from livechart.failure_log import FailureLog
from livechart.jobspec import job_interval
from livechart.pool import START_SECONDS
from livechart.pool import RenderPool
from livechart.quality import DataQuality
from livechart.redact import public_message
from livechart.renderer import DRAWING
from livechart.renderer import DrawingBlocked
from livechart.renderer import DrawingBusy
from livechart.renderer import Renderer
from livechart.sources import Source
from livechart.sources import make_source
from livechart.sources.frames import empty_frame
from livechart.spec import JOB_ID_PREFIX
from livechart.spec import ChartSpec
from livechart.variants import DEFAULT
from livechart.variants import Variant
from livechart.window import append_window

# 回填历史时最多生成的点数
MAX_BACKFILL = 5000

EXTENSION = "livechart"
POOL = "livechart.pool"
DEMAND = "livechart.demand"


@dataclass
class ChartWorker:
    """一个图表的重绘器：同一图表的重绘由 lock 串行化。"""

    spec: ChartSpec
    interval: float
    # 没有 source 的 draw 图表为 None：函数自己收集数据，没有窗口
    source: Source | None
    # 一次取数的总期限（秒）：数据源自己的 timeout，没有时取 LIVECHART_FETCH_TIMEOUT
    fetch_seconds: float
    # 本进程内的绘制器；使用渲染进程池时为 None（Figure 在池的工作进程里），池启动好之前按需创建
    renderer: Renderer | None
    pool: RenderPool | None = None
    # POST /scheduler/jobs/<id>/run 在请求线程里直接调用任务，绕过 max_instances，
    # 可能与计划运行重叠（docs/pitfalls.md 第 5 条），所以这里自己加锁
    lock: threading.Lock = field(default_factory=threading.Lock)
    renders: int = 0
    # 本进程的窗口副本（所有者用它绘制）与它对应的共享窗口的写入序号；loaded 为 False 时下次从共享的窗口重读
    window: pd.DataFrame | None = None
    seq: int = 0
    loaded: bool = False
    # 还没写进共享窗口的行（Redis 不可用时）：下次写入时、或对齐线程里补写
    pending: pd.DataFrame | None = None
    failures: FailureLog = field(init=False)
    fetcher: Deadline[pd.DataFrame] = field(init=False)
    # 丢弃的未来行、窗口里超出范围的值（状态里的 data_warnings）
    quality: DataQuality = field(init=False)
    # 图表从配置里删掉了（或换了数据源、由新的重绘器接替）：正在进行的重绘画完也不再写窗口、图片、错误与指标
    retired: bool = False
    # 本进程里它的绘图函数卡住了（已记过日志）；下一次画成时清除
    hung: bool = False
    # 画不成的变体（已记过日志）；画成时清除
    failing: set[Variant] = field(default_factory=set)
    # 后台重绘变体时从第几个开始（轮流：时间不够时不总是同几个画不到）
    variant_turn: int = 0

    def __post_init__(self) -> None:
        self.failures = FailureLog(self.spec.name)
        self.quality = DataQuality(self.spec.name, tuple(series.column for series in self.spec.series))
        self.fetcher = Deadline(self.spec.name)

    def close_source(self) -> None:
        """关闭数据源（连接池等）；没有 source 的图表什么也不做。"""
        if self.source is not None:
            self.source.close()

    def _load(self) -> None:
        """从共享的窗口读回本进程的副本（第一次、接手时、写入序号对不上时）。

        共享的窗口是空的：升级后先导入上一个布局的窗口（一次）；仍然没有且数据源能回填时回填。
        """
        shared, spec = history.get(), self.spec
        margin = current_app.config["LIVECHART_FUTURE_MARGIN"]
        window, seq = shared.snapshot(spec.name)
        if window is not None and len(window) and shared.source_of(spec.name) not in (None, spec.source_key):
            # 配置文件换了这个图表的数据源：旧数据源的行不要，和新图表一样回填；第一次写入时清空共享的窗口（history.APPEND）
            window = None
        if window is not None and len(window):
            # 以前存下的未来行（LIVECHART_FUTURE_MARGIN 曾为 None）也不能卡住窗口：去掉后重写共享的窗口
            admitted = self.quality.admit(window, margin, current_app.logger)
            if len(admitted) < len(window):
                shared.forget(spec.name)
                window, seq = admitted, shared.append(spec.name, admitted, spec.points, spec.span, source=spec.source_key)
        else:
            rows = shared.legacy(spec.name)
            backfill = getattr(self.source, "backfill", None)
            if rows is not None and len(rows):
                rows = self.quality.admit(rows, margin, current_app.logger)
                current_app.logger.info("图表 %s：导入上一个 Redis 布局的 %d 行历史", spec.name, len(rows))
            elif backfill is not None:
                points = spec.points if spec.span is None else int(spec.span // self.interval)
                rows = backfill(min(points, MAX_BACKFILL) - 1, self.interval)
            if rows is not None and len(rows):
                seq = shared.append(spec.name, rows, spec.points, spec.span, source=spec.source_key)
                window = append_window(None, rows, spec.points, spec.span)
        self.window, self.seq, self.loaded = window, seq, True

    def _store_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        """所有者：把新行（连同等待补写的）写进共享的窗口，返回本进程更新后的副本。

        写入序号正好是上次的下一个：只有本进程写过，副本照样并入新行；比上次还小：Redis 丢了数据（重启时是空的，
        或从较旧的快照恢复），本进程的副本是最完整的，整个重写回去；否则（交接、补写）从共享的窗口重读。
        写不进去（缓存不可用）时新行留下等待补写，抛 store.Unavailable；本进程已不是所有者时抛 history.NotOwner。
        """
        spec, shared = self.spec, history.get()
        batch = rows if self.pending is None else pd.concat([self.pending, rows])
        # 先记下：读回窗口（_load）或写入失败都不丢这些行
        self.pending = history.bounded(batch, spec.points, spec.span) if len(batch) else None
        if not self.loaded:
            self._load()
        if len(batch):
            seq = shared.append(spec.name, batch, spec.points, spec.span, coordination.get().lease_id, spec.source_key)
            self.pending = None
            if seq == self.seq + 1:
                self.window, self.seq = append_window(self.window, batch, spec.points, spec.span), seq
            elif seq <= self.seq and self.window is not None and len(self.window):
                merged = append_window(self.window, batch, spec.points, spec.span)
                current_app.logger.warning(
                    "图表 %s：Redis 里的窗口比本进程的旧（Redis 丢了数据），用本进程的 %d 行重写", spec.name, len(merged)
                )
                self.window, self.seq = merged, shared.append(spec.name, merged, spec.points, spec.span)
            else:
                self.window, self.seq = shared.snapshot(spec.name)
        return self.window if self.window is not None else rows

    def flush(self) -> None:
        """补写等待中的行（对齐线程里；已持有锁）。之后副本从共享的窗口重读。"""
        if self.pending is not None and len(self.pending):
            history.get().append(self.spec.name, self.pending, self.spec.points, self.spec.span)
            self.pending, self.loaded = None, False

    def _shared_window(self) -> pd.DataFrame:
        """不是所有者时绘制用的窗口：共享的窗口（还没有时为空表）。"""
        window = history.load(self.spec.name)
        return window if window is not None else empty_frame([series.column for series in self.spec.series])

    def redraw(self, *, only_if_missing: bool = False, urgent: bool = False) -> store.ChartImage | None:
        """重绘一次并写入缓存；失败时记录错误并保留上一张好图。

        only_if_missing=True 用于请求中的缓存未命中：拿到锁后若已有图片则直接返回，
        这样并发的未命中请求只触发一次绘制（single flight）。urgent：别的进程的 /run 请本进程立即重绘，等到期限。
        """
        name = self.spec.name
        # 计划运行最多等到下一个节拍之前（锁与取数都是），任务线程不跨过下一个节拍，APScheduler 也就不会
        # 每个节拍警告 "maximum number of running instances"；请求里（/run、缓存未命中）等到期限，好回答发生了什么
        patience = None if urgent or has_request_context() else self.patience()
        timeout = current_app.config["LIVECHART_RENDER_TIMEOUT"] if patience is None else patience
        waited_from = time.monotonic()
        if not self.lock.acquire(timeout=timeout):
            # 别的重绘（/run 或缓存未命中）正在进行：这个节拍让给它，不算失败
            current_app.logger.debug("图表 %s 正在重绘，跳过这个节拍", name)
            self.report_hung()
            return store.last_known(name)
        try:
            if self.retired:
                return None
            # 等锁用掉的时间从取数的耐心里扣掉
            left = None if patience is None else max(0.05, patience - (time.monotonic() - waited_from))
            until = None if patience is None else waited_from + patience
            return self._redraw(only_if_missing, left, until)
        except store.Unavailable:
            # 缓存（Redis）不可用：store 已在状态改变时记录日志；保留本进程的最后一张图
            return store.last_known(name)
        except Stopping:
            return store.last_known(name)  # 进程正在停止：不再等数据源
        finally:
            self.lock.release()

    def _draw(self, window: pd.DataFrame | None, variant: Variant = DEFAULT) -> bytes:
        """绘制一个变体：有渲染进程池时在池里，否则在本进程（进程级的绘制锁串行，renderer.py）。

        等绘制锁最多 LIVECHART_RENDER_TIMEOUT：别的图表正常地画（忙）时等着画完，迟一点也比跳过一个节拍好；
        等这么久还等不到，就是有图表卡住了（renderer.DrawingBlocked）。跳过的节拍不再每个记一条警告（logs.py）。"""
        theme, scale, narrow = variant.theme, float(variant.scale), variant.narrow
        if self.pool is not None and self.pool.ready.is_set():
            timeout = current_app.config["LIVECHART_RENDER_TIMEOUT"]
            return self.pool.render(self.spec.name, window, timeout, self.spec, (theme, scale, narrow))
        if self.renderer is None:
            # 渲染进程还在启动（或没能启动）：先在本进程里画，第一张图不等它们
            self.renderer = make_renderer(current_app._get_current_object(), self.spec)  # type: ignore[attr-defined]
        return self.renderer.render(window, theme, scale, narrow=narrow)

    def _save_variant(self, variant: Variant, window: pd.DataFrame | None, based_on: int) -> store.ChartImage | None:
        """画一个变体并写入缓存（已持有锁）。画不成时记日志（状态改变时一次）、保留它上一张图，返回 None。"""
        name, image = self.spec.name, variants.image_id(self.spec.name, variant)
        started = time.perf_counter()
        try:
            png = self._draw(window, variant)
        except (StillRunning, DrawingBusy):
            return None
        except Exception as exc:
            if variant not in self.failing:
                self.failing.add(variant)
                current_app.logger.error(
                    "图表 %s 的变体 %s 画不成：%s", name, variant.suffix, public_message(exc, "drawing", self.spec.private_params)
                )
            return None
        if self.retired:
            return None
        if variant in self.failing:
            self.failing.discard(variant)
            current_app.logger.warning("图表 %s 的变体 %s 又画成了", name, variant.suffix)
        width, height = variants.size(self.spec, variant)
        elapsed_ms = (time.perf_counter() - started) * 1000
        record = store.save_image(
            image, png, elapsed_ms, width * variant.scale, height * variant.scale, coordination.owner(), based_on
        )
        with contextlib.suppress(store.Unavailable):
            coordination.get().announce(image)
        return record

    def _redraw_variants(self, window: pd.DataFrame | None, based_on: int, until: float | None) -> None:
        """默认图画好之后：接着画最近有人要过的变体（同一份数据；livechart/demand.py）。

        until：计划运行最多画到这个时刻（monotonic，下一个节拍之前）：变体再多也不让默认图错过节拍。
        没画到的变体下一次先画（轮流开始），它们的图落后了，请求时会重画一次（current）。"""
        pending = wanted(self.spec.name)
        if not pending:
            return
        start = self.variant_turn % len(pending)
        self.variant_turn += 1
        for variant in pending[start:] + pending[:start]:
            if self.retired or (until is not None and time.monotonic() >= until):
                return
            self._save_variant(variant, window, based_on)

    def draw_variant(self, variant: Variant, default: store.ChartImage | None) -> store.ChartImage | None:
        """请求里要的变体不在缓存里、或是比默认图旧的数据画的：在请求里画一次（并发的请求共用这一次）。

        default：请求看到的默认图。拿到锁之后缓存里已有够新的（别的请求或后台刚画好）就直接用它。"""
        name, image = self.spec.name, variants.image_id(self.spec.name, variant)
        if not self.lock.acquire(timeout=current_app.config["LIVECHART_RENDER_TIMEOUT"]):
            return None
        try:
            if self.retired:
                return None
            based_on = default.version if default is not None else 0
            existing = store.load_image(image)
            if existing is not None and current(existing, default):
                return existing
            metrics.get().cache_misses.labels(name).inc()
            if self.source is None:
                window = None
            elif coordination.get().owns(name) and self.loaded and self.window is not None:
                window = self.window  # 本进程取数：用本进程的副本（与默认图同一份数据）
            else:
                window = self._shared_window()
            return self._save_variant(variant, window, based_on) or existing
        finally:
            self.lock.release()

    def report_hung(self) -> None:
        """本进程里这个图表的绘图函数画了超过 LIVECHART_RENDER_TIMEOUT 还没返回：在状态里报告，第一次时记一条日志。
        调度器因为上一次还没结束而跳过节拍时调用（init_app 注册的监听器），/run 等不到锁时也调用。
        它占着进程级的绘制锁，别的图表等锁超时会说在等它（renderer.DrawingBlocked）。"""
        busy = DRAWING.busy_for(self.spec.name)
        if busy is None or busy <= current_app.config["LIVECHART_RENDER_TIMEOUT"]:
            return
        message = (
            f"drawing: the draw function has been running for {busy:.0f} s and has not returned; it stops all drawing in "
            "this process (run slow or untrusted draw functions with LIVECHART_RENDER_PROCESSES)"
        )
        with contextlib.suppress(store.Unavailable):
            store.record_failure(self.spec.name, message)
        if not self.hung:
            self.hung = True
            current_app.logger.error("图表 %s 的绘图函数已经 %.0f 秒没有返回：本进程的绘制都停下了", self.spec.name, busy)

    def live_interval(self) -> float:
        """任务当前的间隔（可能已被 API 修改）；没有任务时取配置的间隔。"""
        return job_interval(scheduler.get_job(self.spec.job_id)) or self.interval

    def patience(self) -> float:
        """计划运行最多等多久：比间隔少一点余量（进入上下文、抢节拍、写缓存也要时间）。"""
        interval = self.live_interval()
        return max(0.1, interval - max(0.3, 0.2 * interval))

    def _redraw(self, only_if_missing: bool, patience: float | None, until: float | None = None) -> store.ChartImage | None:
        """redraw 的主体（已持有锁）。缓存不可用时抛出 store.Unavailable。until：变体最多画到这个时刻（monotonic）。"""
        name = self.spec.name
        if only_if_missing:
            existing = store.load_image(name)
            if existing is not None:
                return existing
        started = time.perf_counter()
        # 出错的地方写进公开的错误消息（数据源还是绘制）
        where = f"{self.spec.source_type} source"
        drawing_where = "drawing" if self.spec.draw is None else f"draw function {self.spec.draw.function}"
        try:
            if self.source is None:
                # 没有 source 的 draw 图表：函数自己收集数据（每个进程各自的状态），没有窗口
                where, window = drawing_where, None
            elif only_if_missing and not coordination.get().owns(name):
                # 缓存未命中而本进程不是所有者：用共享的窗口画，不取数（取数只由所有者做，窗口不会分叉）
                where = drawing_where
                window = self._shared_window()
            else:
                # 卡住的数据源最多占用期限这么久，之后报告超时（deadline.py）
                # 计划运行最多等到下一个节拍之前；请求里（/run、缓存未命中）等到期限，好回答发生了什么
                rows = self.fetcher.call(self.source.fetch, self.fetch_seconds, patience)
                if self.retired:
                    return None  # 取数期间图表被删掉了（或换了数据源）：结果不进窗口
                where = drawing_where
                # 时间比现在晚太多的行不进窗口（只计数），否则一行 2099 年的数据就卡住图表（livechart/quality.py）
                rows = self.quality.admit(rows, current_app.config["LIVECHART_FUTURE_MARGIN"], current_app.logger)
                window = self._store_rows(rows)
            if window is not None:
                self.quality.check(window, current_app.logger)
            png = self._draw(window)
        except (store.Unavailable, Stopping):
            raise
        except history.NotOwner:
            # 取数期间租约到了别的进程手里（本进程卡住过）：迟到的行不进窗口，也不画（新的所有者在画）
            self.pending, self.loaded = None, False
            current_app.logger.info("图表 %s 已由别的进程接手：丢弃本进程迟到的取数结果", name)
            return store.load_image(name)
        except (StillRunning, DrawingBusy):
            # 还没到期限：下一个节拍再取结果；别的图表正在画（还没画超过期限）：这个节拍让给它。都不算失败
            return store.load_image(name)
        except Exception as exc:
            if self.retired:
                return None
            # 完整的堆栈只进日志（开始失败时写一次，见 failure_log.py）；客户端只能在状态里看到简短的消息
            self.failures.failed(exc, current_app.logger)
            metrics.get().failures.labels(name).inc()
            # 状态是公开的：消息去掉数据源的机密与连接细节（redact.py）
            if isinstance(exc, DrawingBlocked):
                where = "drawing"  # 不是这个图表的错：它在等卡住的那个图表（消息里指明）
            store.record_failure(name, public_message(exc, where, self.spec.private_params))
            return store.load_image(name)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if self.retired:
            return None
        record = store.save_image(name, png, elapsed_ms, self.spec.width, self.spec.height, coordination.owner())
        with contextlib.suppress(store.Unavailable):  # 图已写入；别的进程的跟随线程重连时会读到它
            coordination.get().announce(name)
        if not only_if_missing:
            self._redraw_variants(window, record.version, until)
        store.mark_recovered(name)
        self.failures.recovered(current_app.logger)
        if self.hung:
            self.hung = False
            current_app.logger.warning("图表 %s 的绘图函数又返回了", name)
        self.renders += 1
        counters = metrics.get()
        counters.renders.labels(name).inc()
        counters.render_seconds.labels(name).observe(elapsed_ms / 1000)
        counters.image_bytes.labels(name).set(record.nbytes)
        # 每次渲染一行会淹没日志：只在 DEBUG 级别写
        current_app.logger.debug("图表 %s 第 %d 版，用时 %.1f ms", name, record.version, elapsed_ms)
        return record


def fetch_deadline(params: Mapping[str, Any], default: float) -> float:
    """一次取数的总期限：数据源有自己的 timeout（每次连接、每次读）时取它的两倍再加 2 秒，
    让数据源自己的超时先报出更具体的原因（如“连不上”）；没有时取 LIVECHART_FETCH_TIMEOUT。"""
    own = params.get("timeout")
    return 2 * float(own) + 2 if own is not None else float(default)


def make_renderer(app: Flask, spec: ChartSpec) -> Renderer:
    """本进程里的绘制器（PNG 压缩级别、等绘制锁的期限来自配置）。"""
    return Renderer(spec, app.config["LIVECHART_PNG_COMPRESS_LEVEL"], app.config["LIVECHART_RENDER_TIMEOUT"])


def build_worker(app: Flask, spec: ChartSpec, interval: float, render_pool: RenderPool | None) -> ChartWorker:
    """为一个图表创建数据源与绘制器（启动与重新载入配置时同一个函数）。"""
    return ChartWorker(
        spec,
        interval,
        None if spec.source_type is None else make_source(spec.source_type, spec.source_params),
        fetch_deadline(spec.source_params, app.config["LIVECHART_FETCH_TIMEOUT"]),
        None if render_pool else make_renderer(app, spec),
        render_pool,
    )


def successor(app: Flask, old: ChartWorker, spec: ChartSpec, interval: float) -> ChartWorker:
    """规格变了的图表的新重绘器（新的绘制器）。数据源没变时接着用原来的数据源与窗口（以及卡住的取数、失败记录）；
    重绘锁总是沿用：新旧两个重绘器不会同时画这个图表，旧的那次画完的图也不会盖掉新规格的图。"""
    same_source = (old.spec.source_type, dict(old.spec.source_params)) == (spec.source_type, dict(spec.source_params))
    if same_source:
        renderer = None if old.pool else make_renderer(app, spec)
        worker = ChartWorker(spec, interval, old.source, old.fetch_seconds, renderer, old.pool, lock=old.lock)
        worker.window, worker.seq, worker.loaded, worker.pending = old.window, old.seq, old.loaded, old.pending
        worker.fetcher, worker.failures, worker.renders = old.fetcher, old.failures, old.renders
        return worker
    worker = build_worker(app, spec, interval, old.pool)
    worker.lock = old.lock
    return worker


def init_app(app: Flask, charts: dict[str, ChartSpec], intervals: dict[str, float]) -> None:
    """为每个图表创建数据源与绘制器，放入 app.extensions；把“立即重绘”与补写交给协调器调用。须在 coordination.init_app 之后。"""
    level = app.config["LIVECHART_PNG_COMPRESS_LEVEL"]
    processes = app.config["LIVECHART_RENDER_PROCESSES"]
    render_pool = None
    if processes:
        render_pool = app.extensions[POOL] = RenderPool(charts, processes, level, app.config["LIVECHART_CJK_FONTS"])
        # 渲染进程（从预先导入的 forkserver fork，livechart/pool.py）在忙的机器上也要几秒才能启动好：在后台启动，
        # 用自己的期限而不是一次绘制的期限；启动好之前（预热、最初的节拍）在本进程里画
        render_pool.start_in_background(max(START_SECONDS, app.config["LIVECHART_RENDER_TIMEOUT"]))
    app.extensions[EXTENSION] = {name: build_worker(app, spec, intervals[name], render_pool) for name, spec in charts.items()}
    app.extensions[DEMAND] = Demand()
    coordinator = coordination.get(app)
    coordinator.on_run = lambda chart: _run_for_another_process(app, chart)
    coordinator.on_flush = lambda: _flush(app)
    coordinator.on_publish = lambda: _publish_demand(app)
    global _listening
    if not _listening:
        scheduler.add_listener(_on_skipped, EVENT_JOB_MAX_INSTANCES)
        _listening = True


_listening = False


def _on_skipped(event: JobEvent) -> None:
    """调度器因为上一次重绘还没结束而跳过了一个节拍：那一次卡在绘图函数里时报告它（ChartWorker.report_hung）。
    监听器在调度器线程里运行，没有 app 上下文。APScheduler 自己每个节拍一条的警告由 logs.py 过滤掉。"""
    app = scheduler.app
    if app is None or EXTENSION not in app.extensions or not event.job_id.startswith(JOB_ID_PREFIX):
        return
    with app.app_context():
        worker = workers(app).get(event.job_id[len(JOB_ID_PREFIX) :])
        if worker is not None:
            worker.report_hung()


def _run_for_another_process(app: Flask, chart: str) -> None:
    """别的进程的 POST …/run 请本进程（所有者）立即重绘：在新线程里，不占用跟随线程。"""

    def run() -> None:
        with app.app_context():
            worker = workers(app).get(chart)
            # 正在重绘时不再排一次：那一次画完就是请求方要等的新版本
            if worker is not None and not worker.lock.locked():
                worker.redraw(urgent=True)

    threading.Thread(target=run, name=f"livechart-run-{chart}", daemon=True).start()


def _flush(app: Flask) -> None:
    """对齐线程：补写各图表等待中的行（正在重绘的图表由重绘自己补写）。"""
    with app.app_context():
        for worker in workers(app).values():
            if worker.pending is not None and worker.lock.acquire(blocking=False):
                try:
                    worker.flush()
                finally:
                    worker.lock.release()


def shutdown(app: Flask) -> None:
    """结束渲染进程池（若有）。"""
    render_pool = app.extensions.pop(POOL, None)
    if render_pool is not None:
        render_pool.shutdown()


def demand(app: Flask | None = None) -> Demand:
    """当前 app 的变体需求（livechart/demand.py）。"""
    return (app or current_app).extensions[DEMAND]


def wanted(chart: str) -> list[Variant]:
    """最近有人要过的变体：本进程收到的请求，多进程时加上 Redis 里别的进程记下的。"""
    coordinator, shared = coordination.get(), None
    if coordinator.enabled:
        with contextlib.suppress(store.Unavailable):
            shared = store.guarded(coordinator.client.hgetall, coordinator.key(keys.demand(chart)))
    return demand().wanted(chart, shared)


def _publish_demand(app: Flask) -> None:
    """跟随线程：把本进程收到的变体需求写进 Redis，图表的所有者（可能在别的进程、别的主机）重绘时读它。"""
    coordinator = coordination.get(app)
    with app.app_context(), contextlib.suppress(store.Unavailable):
        demand(app).publish(coordinator.client, coordinator.key)


def workers(app: Flask | None = None) -> dict[str, ChartWorker]:
    """当前 app 的全部图表重绘器（按配置顺序）。"""
    return (app or current_app).extensions[EXTENSION]


def redraw(chart: str) -> None:
    """调度器调用的任务函数：在 app 上下文中重绘一个图表。

    任务在调度器线程里运行，没有 app 上下文（docs/pitfalls.md 第 2 条），所以这里自己进入。
    """
    with scheduler.app.app_context():
        worker = workers().get(chart)
        if worker is None:
            current_app.logger.error("任务要求重绘未知图表 %r", chart)
            return
        coordinator = coordination.get()
        running = worker.fetcher.running_for()
        if coordinator.enabled and running is not None:
            # 上一次取数还没返回：本进程卡住了，不续约（两个间隔内别的进程接手）。过了期限就报告超时（不取数、不渲染）——
            # 只在图表没有别的所有者时：别的进程接手后画得好好的，它的状态不能被这里的超时盖掉
            if running > worker.fetch_seconds and _unowned_or_mine(coordinator, chart):
                worker.redraw()
            return
        if not claim_tick(chart, worker):
            return  # 这个节拍由别的进程渲染（或 Redis 不可用）
        if worker.redraw() is not None:
            coordinator.rebalance(chart)


def _unowned_or_mine(coordinator: coordination.Coordinator, chart: str) -> bool:
    """图表由本进程拥有，或者没有所有者。"""
    try:
        return coordinator.owns(chart) or coordinator.holder(chart) is None
    except store.Unavailable:
        return False


def claim_tick(chart: str, worker: ChartWorker) -> bool:
    """续约或接手这个图表、再认领当前节拍（单进程时总是 True）；Redis 不可用时为 False。
    刚接手时本进程的窗口副本从共享的窗口重读。"""
    interval = worker.live_interval()
    try:
        how = coordination.get().claim(chart, interval)
    except store.Unavailable:
        return False  # store 已记录：满了（不能写）与连不上分开报告
    if how == "taken":
        worker.loaded = False
    return how in ("renewed", "taken")


# 默认图画好之后这么多秒内，上一版数据画的变体也算跟得上（所有者画完默认图才接着画变体）
VARIANT_GRACE = 5.0


def current(image: store.ChartImage, default: store.ChartImage | None) -> bool:
    """变体的图是不是跟得上默认图：用默认图这一版的数据画的，或者默认图刚画好（VARIANT_GRACE 秒内）而变体是上一版的。
    没人要的变体不再重绘，它的图就会落后，下一个请求重画一次。"""
    if default is None or image.based_on >= default.version:
        return True
    return image.based_on == default.version - 1 and time.time() - default.rendered_at < VARIANT_GRACE


def ensure_variant(chart: str, variant: Variant, image: store.ChartImage | None = None) -> store.ChartImage | None:
    """变体的当前图片（image：调用方已经取到的，可能过时）；缺少或跟不上默认图时在本请求里画一次。"""
    worker = workers().get(chart)
    if worker is None:
        return None
    default = ensure_image(chart)
    if image is None or not current(image, default):
        image = store.load_image(variants.image_id(chart, variant))
    if image is not None and current(image, default):
        return image
    if default is None:
        return None  # 默认图都还没有（数据源刚失败）：等下一个节拍，状态里有原因
    # 画不成（绘图函数在这个变体上出错、等不到锁）：宁可给旧的变体，再不行给默认图，也不回答“没有图”
    return worker.draw_variant(variant, default) or image or default


def ensure_image(chart: str) -> store.ChartImage | None:
    """返回图表的当前图片；缓存未命中时在本请求中绘制一次（并发请求共享这一次）。"""
    image = store.load_image(chart)  # 缓存不可用时抛出 store.Unavailable，由调用方处理
    if image is None:
        worker = workers().get(chart)
        if worker is None:
            return None  # 重新载入配置刚删掉了这个图表
        metrics.get().cache_misses.labels(chart).inc()
        failure = store.load_failure(chart)
        interval = worker.live_interval()
        if failure is not None and failure.consecutive and time.time() - failure.at < interval:
            # 刚失败过（如输入还不在）：不让每个请求都再去取一次数，等下一个节拍（状态里有原因）
            return None
        image = worker.redraw(only_if_missing=True)
    return image


def warm(app: Flask) -> None:
    """启动时把每个图表画一遍，让第一个请求就能拿到图片。

    各图表并行取数据（绘制本身仍由类级锁串行），最多等 LIVECHART_WARM_TIMEOUT 秒：
    慢的数据源不拖住启动，它的图表在后台画完（在那之前请求按缓存未命中处理）。
    """

    def one(worker: ChartWorker) -> None:
        with app.app_context():
            # 几个进程同时启动时只有一个预热（与计划运行抢同一个节拍）
            if claim_tick(worker.spec.name, worker):
                worker.redraw()

    with app.app_context():
        held = coordination.held_back(app)
    threads = {
        name: threading.Thread(target=one, args=(worker,), name=f"livechart-warm-{name}", daemon=True)
        for name, worker in workers(app).items()
        if name not in held
    }
    for thread in threads.values():
        thread.start()
    deadline = time.monotonic() + app.config["LIVECHART_WARM_TIMEOUT"]
    for name, thread in threads.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            app.logger.warning("图表 %s 的预热超过 %s 秒，在后台继续", name, app.config["LIVECHART_WARM_TIMEOUT"])
