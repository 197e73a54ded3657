"""变体的重绘：默认图画好之后接着画最近有人要过的变体，请求要的变体跟不上时在请求里画一次（livechart/variants.py）。

需求记在每个 app 自己的 Demand 里（livechart/demand.py）；多进程时别的进程收到的请求经 Redis 传到所有者。
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

import pandas as pd
from flask import Flask
from flask import current_app

from livechart import coordination
from livechart import keys
from livechart import metrics
from livechart import store
from livechart import variants
from livechart.deadline import StillRunning
from livechart.demand import Demand
from livechart.peer import owner
from livechart.redact import DRAW_FUNCTION_WHERE
from livechart.redact import DRAWING_WHERE
from livechart.redact import public_message
from livechart.renderer import DrawingBusy
from livechart.spec import ChartSpec
from livechart.variants import Variant

if TYPE_CHECKING:
    from livechart.redrawer import Redrawer

# app.extensions 里这个 app 的变体需求
EXTENSION = "livechart.demand"
# 默认图画好之后这么多秒内，上一版数据画的变体也算跟得上（所有者画完默认图才接着画变体）
VARIANT_GRACE = 5.0


def init_app(app: Flask) -> None:
    """为 app 准备空的变体需求。"""
    app.extensions[EXTENSION] = Demand()


def demand(app: Flask | None = None) -> Demand:
    """当前 app 的变体需求（livechart/demand.py）。"""
    return (app or current_app).extensions[EXTENSION]


def wanted(chart: str) -> list[Variant]:
    """最近有人要过的变体：本进程收到的请求，多进程时加上 Redis 里别的进程记下的。"""
    coordinator = coordination.get()
    shared = None
    if coordinator.enabled and coordinator.client is not None:
        with contextlib.suppress(store.Unavailable):
            shared = store.guarded(coordinator.client.hgetall, coordinator.key(keys.demand(chart)))
    return demand().wanted(chart, shared)


def publish_demand(app: Flask) -> None:
    """跟随线程：把本进程收到的变体需求写进 Redis，图表的所有者（可能在别的进程、别的主机）重绘时读它。"""
    coordinator = coordination.get(app)
    with app.app_context(), contextlib.suppress(store.Unavailable):
        demand(app).publish(coordinator.client, coordinator.key)


def current(image: store.ChartImage, default: store.ChartImage | None) -> bool:
    """变体的图是不是跟得上默认图：用默认图这一版的数据画的，或者默认图刚画好（VARIANT_GRACE 秒内）而变体是上一版的。
    没人要的变体不再重绘，它的图就会落后，下一个请求重画一次。"""
    if default is None or image.based_on >= default.version:
        return True
    return image.based_on == default.version - 1 and time.time() - default.rendered_at < VARIANT_GRACE


def where(spec: ChartSpec) -> str:
    """变体画不成时消息里“出错的地方”：有绘图函数时是它，否则是绘制（与默认图的消息一致）。"""
    return DRAWING_WHERE if spec.draw is None else DRAW_FUNCTION_WHERE.format(spec.draw.function)


def save_variant(redrawer: Redrawer, variant: Variant, window: pd.DataFrame | None, based_on: int) -> store.ChartImage | None:
    """画一个变体并写入缓存（已持有重绘锁）。画不成时记日志（状态改变时一次）、保留它上一张图，返回 None。"""
    spec = redrawer.spec
    image = variants.image_id(spec.name, variant)
    started = time.perf_counter()
    try:
        png = redrawer.draw_png(window, variant)
    except (StillRunning, DrawingBusy):
        return None
    except Exception as exc:
        if variant not in redrawer.failing:
            redrawer.failing.add(variant)
            current_app.logger.error(
                "图表 %s 的变体 %s 画不成：%s", spec.name, variant.suffix, public_message(exc, where(spec), spec.private_params)
            )
        return None
    if redrawer.retired:
        return None
    if variant in redrawer.failing:
        redrawer.failing.discard(variant)
        current_app.logger.warning("图表 %s 的变体 %s 又画成了", spec.name, variant.suffix)
    width, height = variants.size(spec, variant)
    elapsed_ms = (time.perf_counter() - started) * 1000
    record = store.save_image(image, png, elapsed_ms, width * variant.scale, height * variant.scale, owner(), based_on)
    with contextlib.suppress(store.Unavailable):
        coordination.get().announce(image)
    return record


def redraw_variants(redrawer: Redrawer, window: pd.DataFrame | None, based_on: int, until: float | None) -> None:
    """默认图画好之后：接着画最近有人要过的变体（同一份数据）。

    until：计划运行最多画到这个时刻（monotonic，下一个节拍之前）：变体再多也不让默认图错过节拍。
    没画到的变体下一次先画（轮流开始），它们的图落后了，请求时会重画一次（current）。"""
    pending = wanted(redrawer.spec.name)
    if not pending:
        return
    start = redrawer.variant_turn % len(pending)
    redrawer.variant_turn += 1
    for variant in pending[start:] + pending[:start]:
        if redrawer.retired or (until is not None and time.monotonic() >= until):
            return
        save_variant(redrawer, variant, window, based_on)


def draw_variant(redrawer: Redrawer, variant: Variant, default: store.ChartImage | None) -> store.ChartImage | None:
    """请求里要的变体不在缓存里、或是比默认图旧的数据画的：在请求里画一次（并发的请求共用这一次）。

    default：请求看到的默认图。拿到锁之后缓存里已有够新的（别的请求或后台刚画好）就直接用它。"""
    name = redrawer.spec.name
    if not redrawer.lock.acquire(timeout=current_app.config["LIVECHART_RENDER_TIMEOUT"]):
        return None
    try:
        if redrawer.retired:
            return None
        existing = store.load_image(variants.image_id(name, variant))
        if existing is not None and current(existing, default):
            return existing
        metrics.get().cache_misses.labels(name).inc()
        based_on = default.version if default is not None else 0
        return save_variant(redrawer, variant, redrawer.window_for_request(), based_on) or existing
    finally:
        redrawer.lock.release()
