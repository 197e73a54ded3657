"""一个图表的重绘器：取数 → 滚动窗口 → 绘制 → 缓存（调度器的任务与请求里的缓存未命中都经过它）。

滚动窗口所有进程共用一份（history.py）：取数的只有图表的所有者（coordination.py），它把新行写进共享的窗口，
再用本进程的副本绘制；别的进程在缓存未命中时用共享的窗口绘制、不取数，窗口不会分叉。
写不进去的新行留在本进程、之后补写，一行也不丢。默认图画好之后接着画有人要的变体（livechart/variant_redraw.py）。
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from dataclasses import field

import pandas as pd
from flask import Flask
from flask import current_app
from flask import has_request_context

from livechart import coordination
from livechart import history
from livechart import metrics
from livechart import store
from livechart.deadline import Deadline
from livechart.deadline import StillRunning
from livechart.deadline import Stopping
from livechart.durations import duration_text
from livechart.extensions import scheduler
from livechart.failure_log import FailureLog
from livechart.jobspec import job_interval
from livechart.peer import owner
from livechart.pool import RenderPool
from livechart.quality import DataQuality
from livechart.redact import DRAWING_WHERE
from livechart.redact import SOURCE_WHERE
from livechart.redact import public_message
from livechart.renderer import DRAWING
from livechart.renderer import DrawingBlocked
from livechart.renderer import DrawingBusy
from livechart.renderer import Renderer
from livechart.sources import Source
from livechart.sources.frames import empty_frame
from livechart.spec import ChartSpec
from livechart.variant_redraw import redraw_variants
from livechart.variant_redraw import where as where_drawn
from livechart.variants import DEFAULT
from livechart.variants import Variant
from livechart.window import append_window

# 回填历史时最多生成的点数
MAX_BACKFILL = 5000


@dataclass
class Redrawer:
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

    def draw_png(self, window: pd.DataFrame | None, variant: Variant = DEFAULT) -> bytes:
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

    def report_hung(self) -> None:
        """本进程里这个图表的绘图函数画了超过 LIVECHART_RENDER_TIMEOUT 还没返回：在状态里报告，第一次时记一条日志。
        调度器因为上一次还没结束而跳过节拍时调用（jobs.init_app 注册的监听器），/run 等不到锁时也调用。
        它占着进程级的绘制锁，别的图表等锁超时会说在等它（renderer.DrawingBlocked）。"""
        busy = DRAWING.busy_for(self.spec.name)
        if busy is None or busy <= current_app.config["LIVECHART_RENDER_TIMEOUT"]:
            return
        message = (
            f"{DRAWING_WHERE}：绘图函数已经运行 {duration_text(round(busy))}还没有返回，本进程的绘制都被它挡住了"
            "（慢的或不可信的绘图函数请放进渲染进程运行：LIVECHART_RENDER_PROCESSES）"
        )
        with contextlib.suppress(store.Unavailable):
            store.record_failure(self.spec.name, message)
        if not self.hung:
            self.hung = True
            current_app.logger.error(
                "图表 %s 的绘图函数已经 %s没有返回：本进程的绘制都停下了", self.spec.name, duration_text(round(busy))
            )

    def live_interval(self) -> float:
        """任务当前的间隔（可能已被 API 修改）；没有任务时取配置的间隔。"""
        return job_interval(scheduler.get_job(self.spec.job_id)) or self.interval

    def patience(self) -> float:
        """计划运行最多等多久：比间隔少一点余量（进入上下文、抢节拍、写缓存也要时间）。"""
        interval = self.live_interval()
        return max(0.1, interval - max(0.3, 0.2 * interval))

    def window_for_request(self) -> pd.DataFrame | None:
        """请求里补画（变体）用的窗口：本进程取数时用本进程的副本（与默认图同一份数据），否则用共享的窗口。"""
        if self.source is None:
            return None
        if coordination.get().owns(self.spec.name) and self.loaded and self.window is not None:
            return self.window
        return self._shared_window()

    def _redraw(self, only_if_missing: bool, patience: float | None, until: float | None = None) -> store.ChartImage | None:
        """redraw 的主体（已持有锁）。缓存不可用时抛出 store.Unavailable。until：变体最多画到这个时刻（monotonic）。"""
        name = self.spec.name
        if only_if_missing:
            existing = store.load_image(name)
            if existing is not None:
                return existing
        started = time.perf_counter()
        # 出错的地方写进公开的错误消息（数据源还是绘制）
        where = SOURCE_WHERE.format(self.spec.source_type)
        drawing_where = where_drawn(self.spec)
        try:
            if self.source is None:
                # 没有 source 的 draw 图表：函数自己收集数据（每个进程各自的状态），没有窗口
                where, window = drawing_where, None
            elif only_if_missing and not coordination.get().owns(name):
                # 缓存未命中而本进程不是所有者：用共享的窗口画，不取数（取数只由所有者做，窗口不会分叉）
                where, window = drawing_where, self._shared_window()
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
            png = self.draw_png(window)
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
            return self._failed(exc, where)
        return self._saved(png, window, (time.perf_counter() - started) * 1000, only_if_missing, until)

    def _failed(self, exc: Exception, where: str) -> store.ChartImage | None:
        """取数或绘制失败：记录（状态、指标、开始失败时一条日志），保留上一张好图。"""
        name = self.spec.name
        if self.retired:
            return None
        # 完整的堆栈只进日志（开始失败时写一次，见 failure_log.py）；客户端只能在状态里看到简短的消息
        self.failures.failed(exc, current_app.logger)
        metrics.get().failures.labels(name).inc()
        # 状态是公开的：消息去掉数据源的机密与连接细节（redact.py）
        if isinstance(exc, DrawingBlocked):
            where = DRAWING_WHERE  # 不是这个图表的错：它在等卡住的那个图表（消息里指明）
        store.record_failure(name, public_message(exc, where, self.spec.private_params))
        return store.load_image(name)

    def _saved(
        self, png: bytes, window: pd.DataFrame | None, elapsed_ms: float, only_if_missing: bool, until: float | None
    ) -> store.ChartImage | None:
        """画好了：写入缓存并通知别的进程，接着画有人要的变体，记下恢复与指标。"""
        name = self.spec.name
        if self.retired:
            return None
        record = store.save_image(name, png, elapsed_ms, self.spec.width, self.spec.height, owner())
        with contextlib.suppress(store.Unavailable):  # 图已写入；别的进程的跟随线程重连时会读到它
            coordination.get().announce(name)
        if not only_if_missing:
            redraw_variants(self, window, record.version, until)
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


def make_renderer(app: Flask, spec: ChartSpec) -> Renderer:
    """本进程里的绘制器（PNG 压缩级别、等绘制锁的期限来自配置）。"""
    return Renderer(spec, app.config["LIVECHART_PNG_COMPRESS_LEVEL"], app.config["LIVECHART_RENDER_TIMEOUT"])
