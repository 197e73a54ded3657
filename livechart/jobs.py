"""重绘任务：调度器按间隔调用 redraw(chart)；请求里的缓存未命中调用 ensure_image / ensure_variant。

每个图表的重绘器（livechart/redrawer.py：数据源、复用的绘制器、重绘锁）放在 app.extensions 中，
和 Flask-Caching 一样，一个扩展对象可服务多个 app；别的模块经 redrawers(app) 取得它们。
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.events import JobEvent
from flask import Flask
from flask import current_app

from livechart import coordination
from livechart import metrics
from livechart import store
from livechart import variant_redraw
from livechart import variants
from livechart.extensions import scheduler
from livechart.pool import START_SECONDS
from livechart.pool import RenderPool
from livechart.redrawer import Redrawer
from livechart.redrawer import make_renderer
from livechart.sources import make_source
from livechart.spec import ChartSpec
from livechart.spec import chart_of_job
from livechart.variant_redraw import current
from livechart.variants import Variant

EXTENSION = "livechart"
POOL = "livechart.pool"


def fetch_deadline(params: Mapping[str, Any], default: float) -> float:
    """一次取数的总期限：数据源有自己的 timeout（每次连接、每次读）时取它的两倍再加 2 秒，
    让数据源自己的超时先报出更具体的原因（如“连不上”）；没有时取 LIVECHART_FETCH_TIMEOUT。"""
    own = params.get("timeout")
    return 2 * float(own) + 2 if own is not None else float(default)


def build_redrawer(app: Flask, spec: ChartSpec, interval: float, render_pool: RenderPool | None) -> Redrawer:
    """为一个图表创建数据源与绘制器（启动与重新载入配置时同一个函数）。"""
    return Redrawer(
        spec,
        interval,
        None if spec.source_type is None else make_source(spec.source_type, spec.source_params),
        fetch_deadline(spec.source_params, app.config["LIVECHART_FETCH_TIMEOUT"]),
        None if render_pool else make_renderer(app, spec),
        render_pool,
    )


def successor(app: Flask, old: Redrawer, spec: ChartSpec, interval: float) -> Redrawer:
    """规格变了的图表的新重绘器（新的绘制器）。数据源没变时接着用原来的数据源与窗口（以及卡住的取数、失败记录）；
    重绘锁总是沿用：新旧两个重绘器不会同时画这个图表，旧的那次画完的图也不会盖掉新规格的图。"""
    same_source = (old.spec.source_type, dict(old.spec.source_params)) == (spec.source_type, dict(spec.source_params))
    if same_source:
        renderer = None if old.pool else make_renderer(app, spec)
        redrawer = Redrawer(spec, interval, old.source, old.fetch_seconds, renderer, old.pool, lock=old.lock)
        redrawer.window, redrawer.seq, redrawer.loaded, redrawer.pending = old.window, old.seq, old.loaded, old.pending
        redrawer.fetcher, redrawer.failures, redrawer.renders = old.fetcher, old.failures, old.renders
        return redrawer
    redrawer = build_redrawer(app, spec, interval, old.pool)
    redrawer.lock = old.lock
    return redrawer


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
    app.extensions[EXTENSION] = {name: build_redrawer(app, spec, intervals[name], render_pool) for name, spec in charts.items()}
    variant_redraw.init_app(app)
    coordinator = coordination.get(app)
    coordinator.on_run = lambda chart: _run_for_another_process(app, chart)
    coordinator.on_flush = lambda: _flush(app)
    coordinator.on_publish = lambda: variant_redraw.publish_demand(app)
    global _listening
    if not _listening:
        scheduler.add_listener(_on_skipped, EVENT_JOB_MAX_INSTANCES)
        _listening = True


_listening = False


def _on_skipped(event: JobEvent) -> None:
    """调度器因为上一次重绘还没结束而跳过了一个节拍：那一次卡在绘图函数里时报告它（Redrawer.report_hung）。
    监听器在调度器线程里运行，没有 app 上下文。APScheduler 自己每个节拍一条的警告由 logs.py 过滤掉。"""
    app = scheduler.app
    chart = chart_of_job(event.job_id)
    if app is None or EXTENSION not in app.extensions or chart is None:
        return
    with app.app_context():
        redrawer = redrawers(app).get(chart)
        if redrawer is not None:
            redrawer.report_hung()


def _run_for_another_process(app: Flask, chart: str) -> None:
    """别的进程的 POST …/run 请本进程（所有者）立即重绘：在新线程里，不占用跟随线程。"""

    def run() -> None:
        with app.app_context():
            redrawer = redrawers(app).get(chart)
            # 正在重绘时不再排一次：那一次画完就是请求方要等的新版本
            if redrawer is not None and not redrawer.lock.locked():
                redrawer.redraw(urgent=True)

    threading.Thread(target=run, name=f"livechart-run-{chart}", daemon=True).start()


def _flush(app: Flask) -> None:
    """对齐线程：补写各图表等待中的行（正在重绘的图表由重绘自己补写）。"""
    with app.app_context():
        for redrawer in redrawers(app).values():
            if redrawer.pending is not None and redrawer.lock.acquire(blocking=False):
                try:
                    redrawer.flush()
                finally:
                    redrawer.lock.release()


def shutdown(app: Flask) -> None:
    """重绘器退役、关闭数据源，结束渲染进程池（若有）。只由 livechart/shutdown.py 调用；可以调用多次。

    退役在关闭之前：还卡在数据源里的重绘（调度器不等它）回来时看到 retired，不把“连接已关闭”之类的错误写进
    共享的状态——那会让别的进程的状态说一个好好的图表坏了。"""
    for redrawer in redrawers(app).values():
        redrawer.retired = True
        redrawer.close_source()
    render_pool = app.extensions.pop(POOL, None)
    if render_pool is not None:
        render_pool.shutdown()


def redrawers(app: Flask | None = None) -> dict[str, Redrawer]:
    """当前 app 的全部图表重绘器（按配置顺序）。"""
    return (app or current_app).extensions[EXTENSION]


def redraw(chart: str) -> None:
    """调度器调用的任务函数：在 app 上下文中重绘一个图表。

    任务在调度器线程里运行，没有 app 上下文（docs/pitfalls.md 第 2 条），所以这里自己进入。
    """
    with scheduler.app.app_context():
        redrawer = redrawers().get(chart)
        if redrawer is None:
            current_app.logger.error("任务要求重绘未知图表 %r", chart)
            return
        coordinator = coordination.get()
        running = redrawer.fetcher.running_for()
        if coordinator.enabled and running is not None:
            # 上一次取数还没返回：本进程卡住了，不续约（两个间隔内别的进程接手）。过了期限就报告超时（不取数、不渲染）——
            # 只在图表没有别的所有者时：别的进程接手后画得好好的，它的状态不能被这里的超时盖掉
            if running > redrawer.fetch_seconds and _unowned_or_mine(coordinator, chart):
                redrawer.redraw()
            return
        if not claim_tick(chart, redrawer):
            return  # 这个节拍由别的进程渲染（或 Redis 不可用）
        if redrawer.redraw() is not None:
            coordinator.rebalance(chart)


def _unowned_or_mine(coordinator: coordination.Coordinator, chart: str) -> bool:
    """图表由本进程拥有，或者没有所有者。"""
    try:
        return coordinator.owns(chart) or coordinator.holder(chart) is None
    except store.Unavailable:
        return False


def claim_tick(chart: str, redrawer: Redrawer) -> bool:
    """续约或接手这个图表、再认领当前节拍（单进程时总是 True）；Redis 不可用时为 False。
    刚接手时本进程的窗口副本从共享的窗口重读。"""
    interval = redrawer.live_interval()
    try:
        how = coordination.get().claim(chart, interval)
    except store.Unavailable:
        return False  # store 已记录：满了（不能写）与连不上分开报告
    if how == "taken":
        redrawer.loaded = False
    return how in ("renewed", "taken")


def ensure_variant(chart: str, variant: Variant, image: store.ChartImage | None = None) -> store.ChartImage | None:
    """变体的当前图片（image：调用方已经取到的，可能过时）；缺少或跟不上默认图时在本请求里画一次。"""
    redrawer = redrawers().get(chart)
    if redrawer is None:
        return None
    default = ensure_image(chart)
    if image is None or not current(image, default):
        image = store.load_image(variants.image_id(chart, variant))
    if image is not None and current(image, default):
        return image
    if default is None:
        return None  # 默认图都还没有（数据源刚失败）：等下一个节拍，状态里有原因
    # 画不成（绘图函数在这个变体上出错、等不到锁）：宁可给旧的变体，再不行给默认图，也不回答“没有图”
    return variant_redraw.draw_variant(redrawer, variant, default) or image or default


def ensure_image(chart: str) -> store.ChartImage | None:
    """返回图表的当前图片；缓存未命中时在本请求中绘制一次（并发请求共享这一次）。"""
    image = store.load_image(chart)  # 缓存不可用时抛出 store.Unavailable，由调用方处理
    if image is None:
        redrawer = redrawers().get(chart)
        if redrawer is None:
            return None  # 重新载入配置刚删掉了这个图表
        metrics.get().cache_misses.labels(chart).inc()
        failure = store.load_failure(chart)
        interval = redrawer.live_interval()
        if failure is not None and failure.consecutive and time.time() - failure.at < interval:
            # 刚失败过（如输入还不在）：不让每个请求都再去取一次数，等下一个节拍（状态里有原因）
            return None
        image = redrawer.redraw(only_if_missing=True)
    return image


def warm(app: Flask) -> None:
    """启动时把每个图表画一遍，让第一个请求就能拿到图片。

    各图表并行取数据（绘制本身仍由类级锁串行），最多等 LIVECHART_WARM_TIMEOUT 秒：
    慢的数据源不拖住启动，它的图表在后台画完（在那之前请求按缓存未命中处理）。
    """

    def one(redrawer: Redrawer) -> None:
        with app.app_context():
            # 几个进程同时启动时只有一个预热（与计划运行抢同一个节拍）
            if claim_tick(redrawer.spec.name, redrawer):
                redrawer.redraw()

    with app.app_context():
        held = coordination.held_back(app)
    threads = {
        name: threading.Thread(target=one, args=(redrawer,), name=f"livechart-warm-{name}", daemon=True)
        for name, redrawer in redrawers(app).items()
        if name not in held
    }
    for thread in threads.values():
        thread.start()
    deadline = time.monotonic() + app.config["LIVECHART_WARM_TIMEOUT"]
    for name, thread in threads.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            app.logger.warning("图表 %s 的预热超过 %s 秒，在后台继续", name, app.config["LIVECHART_WARM_TIMEOUT"])
