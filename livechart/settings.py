"""配置的校验：唯一的校验器。

create_app 与 gunicorn 的主进程（gunicorn_config.check_deployment，fork 工作进程之前）都调用 check：
同一份配置在两处得到同样的结论与同样的消息，而不是一处放过、另一处才报错（或报不同的错）。
出错时抛出指明设置的 ConfigError；通过时返回规范化之后的值（Settings），调用方把它写回配置。
本模块不导入 Flask 的 app 与扩展。
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from livechart import security
from livechart.durations import duration_text
from livechart.headers import CORP_VALUES
from livechart.jobspec import IntervalLimits
from livechart.jobspec import JobSpecError
from livechart.jobspec import check_job
from livechart.quality import future_margin
from livechart.spec import JOB_FUNC
from livechart.spec import ChartSpec
from livechart.spec import ConfigError
from livechart.spec import job_id_for
from livechart.spec import parse_chart

SCHEDULER_MODES = ("running", "paused", "off")
ROLES = ("all", "web")
REDIS_CACHES = {name: f"flask_caching.backends.{name}" for name in ("RedisCache", "RedisSentinelCache", "RedisClusterCache")}
NULL_CACHES = (None, "null", "NullCache", "flask_caching.backends.NullCache")


# 运行中的进程可以换上的设置：重新载入配置（livechart/reload.py）时应用。别的设置（缓存后端、角色、地址、端口、
# 渲染进程数、凭据……）在启动时就用进了扩展、线程与套接字，改了要重启：重新载入时报告“需要重启”，而不是悄悄忽略
LIVE_SETTINGS = (
    "CHARTS", "JOBS", "LIVECHART_MIN_INTERVAL", "LIVECHART_MAX_INTERVAL", "LIVECHART_FUTURE_MARGIN",
    "LIVECHART_FETCH_TIMEOUT", "LIVECHART_RENDER_TIMEOUT", "LIVECHART_WARM_TIMEOUT",
)  # fmt: skip
_MISSING = object()


def same(a: Any, b: Any, depth: int = 0) -> bool:
    """两个设置值是否相同。每次载入配置模块都会新建其中的对象：没有自己的 == 的对象（如 redis 的 Retry）
    按类型与属性比较，而不是按是不是同一个对象——否则每次保存都会误报“需要重启”。"""
    if a is b:
        return True
    if type(a) is not type(b) or depth > 8:
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key], depth + 1) for key in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y, depth + 1) for x, y in zip(a, b, strict=True))
    try:
        if a == b:
            return True
    except Exception:
        pass
    if type(a).__eq__ is object.__eq__ and hasattr(a, "__dict__"):
        return same(vars(a), vars(b), depth + 1)
    return False


def restart_needed(running: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """新的配置里改了、却只能在重启时生效的设置（名字，排好序）。"""
    names = sorted(set(running) | set(new))
    return [
        name for name in names if name not in LIVE_SETTINGS and not same(running.get(name, _MISSING), new.get(name, _MISSING))
    ]


@dataclass(frozen=True)
class Settings:
    """校验并规范化之后的配置。"""

    charts: dict[str, ChartSpec]
    intervals: dict[str, float]
    port: int
    render_processes: int
    role: str
    future_margin: float | None


def is_redis_cache(cache_type: Any) -> bool:
    """CACHE_TYPE 是否是 Flask-Caching 的某个 Redis 后端（多进程、多主机共享）。"""
    return cache_type in REDIS_CACHES or cache_type in REDIS_CACHES.values()


def check_role(config: Mapping[str, Any]) -> str:
    """校验 LIVECHART_ROLE 并返回它；web 角色只提供别的进程渲染的图，所以必须用共享的 Redis 缓存。"""
    role = config.get("LIVECHART_ROLE", "all")
    if role not in ROLES:
        raise ConfigError(_one_of("LIVECHART_ROLE", ROLES, role))
    if role == "web" and not is_redis_cache(config.get("CACHE_TYPE")):
        raise ConfigError(
            f"LIVECHART_ROLE=web 只提供别的进程画好的图，所以需要共享的 Redis 缓存（请设置 LIVECHART_REDIS_URL）；"
            f"现在的 CACHE_TYPE 是 {config.get('CACHE_TYPE')!r}"
        )
    return role


def render_processes(value: Any) -> int:
    """LIVECHART_RENDER_PROCESSES → 0–32 的整数（0：在本进程绘制）。"""
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if not 0 <= count <= 32:
        raise ConfigError(f"LIVECHART_RENDER_PROCESSES 必须是 0–32 之间的整数（0 表示在本进程里绘制），收到 {value!r}")
    return count


def port_number(value: Any) -> int:
    """LIVECHART_PORT → 1–65535 的整数。"""
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(f"LIVECHART_PORT 必须是 1–65535 之间的端口号，收到 {value!r}")
    return port


def _seconds(name: str, value: Any, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= high:
        raise ConfigError(f"{name} 必须是大于 0、不超过 {high:g}（{duration_text(high)}）的秒数，收到 {value!r}")


def _one_of(name: str, choices: tuple[Any, ...], value: Any) -> str:
    """设置不是可选值之一时的消息。"""
    return f"{name} 必须是 {'、'.join(map(str, choices))} 之一，收到 {value!r}"


def parse_settings(config: Mapping[str, Any]) -> tuple[dict[str, ChartSpec], dict[str, float]]:
    """校验 CHARTS 与 JOBS：返回 (图表名 → 规格, 图表名 → 间隔秒数)；出错时抛 ConfigError。"""
    raw_charts = config.get("CHARTS")
    if not isinstance(raw_charts, Mapping) or not raw_charts:
        raise ConfigError("CHARTS：至少要配置一个图表（图表名 → 规格的字典）")
    charts = {name: parse_chart(name, raw) for name, raw in raw_charts.items()}
    limits = IntervalLimits.of(config)
    raw_jobs = config.get("JOBS")
    if not isinstance(raw_jobs, list | tuple):
        raise ConfigError("JOBS：必须是 Flask-APScheduler 任务字典的列表")
    intervals: dict[str, float] = {}
    for index, job in enumerate(raw_jobs):
        label = job.get("id", f"#{index}") if isinstance(job, Mapping) else f"#{index}"
        try:
            desired = check_job(job, charts, limits)
        except JobSpecError as exc:
            raise ConfigError(f"JOBS[{label!r}]：{exc}") from None
        chart = job["kwargs"]["chart"]
        if chart in intervals:
            raise ConfigError(f"JOBS[{label!r}]：图表 {chart!r} 已经有一个任务了，每个图表只能有一个任务")
        intervals[chart] = desired["seconds"]
    for name in charts:
        if name not in intervals:
            example = {"id": job_id_for(name), "func": JOB_FUNC, "kwargs": {"chart": name}, "trigger": "interval", "seconds": 2}
            raise ConfigError(f"CHARTS[{name!r}]：没有任务；请在 JOBS 里加上一个，例如 {example!r}")
    return charts, intervals


def check(config: Mapping[str, Any]) -> Settings:
    """校验整个配置（图表、任务、缓存、角色、调度器、期限、安全设置……），返回规范化之后的值。"""
    charts, intervals = parse_settings(config)
    port = port_number(config.get("LIVECHART_PORT"))
    processes = render_processes(config.get("LIVECHART_RENDER_PROCESSES"))
    if config.get("LIVECHART_SCHEDULER") not in SCHEDULER_MODES:
        raise ConfigError(_one_of("LIVECHART_SCHEDULER", SCHEDULER_MODES, config.get("LIVECHART_SCHEDULER")))
    _seconds("LIVECHART_FETCH_TIMEOUT", config.get("LIVECHART_FETCH_TIMEOUT"), 3600)
    _seconds("LIVECHART_RENDER_TIMEOUT", config.get("LIVECHART_RENDER_TIMEOUT"), 3600)
    _seconds("LIVECHART_RECONCILE_SECONDS", config.get("LIVECHART_RECONCILE_SECONDS"), 60)
    if not isinstance(config.get("LIVECHART_RELOAD", True), bool):
        raise ConfigError(f"LIVECHART_RELOAD 必须是 True 或 False，收到 {config.get('LIVECHART_RELOAD')!r}")
    margin = future_margin(config.get("LIVECHART_FUTURE_MARGIN"))
    level = config.get("LIVECHART_PNG_COMPRESS_LEVEL")
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 9:
        raise ConfigError(f"LIVECHART_PNG_COMPRESS_LEVEL 必须是 0–9 之间的整数，收到 {level!r}")
    if config.get("CACHE_TYPE") in NULL_CACHES:
        raise ConfigError("CACHE_TYPE：NullCache 什么都不存；请用 SimpleCache（内嵌）或 RedisCache")
    if config.get("LIVECHART_IMAGE_CORP") not in CORP_VALUES:
        raise ConfigError(_one_of("LIVECHART_IMAGE_CORP", CORP_VALUES, config.get("LIVECHART_IMAGE_CORP")))
    role = check_role(config)
    security.check_settings(config)
    return Settings(charts, intervals, port, processes, role, margin)
