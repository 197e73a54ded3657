"""启动：载入配置、校验、按顺序绑定扩展、再开始运行（预热、调度器、协调线程）；create_app 依次调用这里的步骤。

绑定的顺序有依赖（见 bind 里每一步的注释），所以写成一个列表，而不是散在工厂函数里。
"""

from __future__ import annotations

import copy
import os
from typing import Any

from flask import Flask
from flask.helpers import get_debug_flag
from flask.json.provider import DefaultJSONProvider
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from werkzeug.serving import is_running_from_reloader

from livechart import alignment
from livechart import configfile
from livechart import coordination
from livechart import data_api
from livechart import errors
from livechart import fastpath
from livechart import headers
from livechart import history
from livechart import jobs
from livechart import metrics
from livechart import ops
from livechart import security
from livechart import settings
from livechart.durations import duration_text
from livechart.extensions import cache
from livechart.extensions import scheduler
from livechart.fonts import configure_fonts
from livechart.jobspec import job_interval
from livechart.spec import ConfigError
from livechart.views import bp

# APScheduler 会改动传给它的字典（executors 的 "type" 被 pop 掉），而配置类的属性被所有 app 共用：每个 app 复制一份
COPIED_SETTINGS = ("JOBS", "CHARTS", "SCHEDULER_EXECUTORS", "SCHEDULER_JOBSTORES", "SCHEDULER_JOB_DEFAULTS")


def load_config(
    config: Any = None, default: str = "development", *, fallback: bool = False
) -> tuple[Any, configfile.ConfigRef | None, configfile.Loaded | None, str | None]:
    """把 LIVECHART_CONFIG（或参数）解析为配置类：development / testing / production / "模块:类" / "模块"。

    返回 (配置类, 它所在的配置模块, 载入的结果：摘要与读之前的 signature, 载入错误)。
    fallback：文件现在载入不了、而本进程记得它上一次有效的内容时（gunicorn 的主进程载入过，见 configfile.last_good），
    用那份内容，并把错误返回给调用方报告，而不是抛出——被重启的工作进程不能因为刚存了一个错误就让整个服务器停下。名字指定的配置模块从文件本身隔离地载入
    （livechart/configfile.py）：重新载入时看的也是它。直接传入的配置类（测试）原样使用，不监视。
    没有设置 LIVECHART_CONFIG 时用 default：python -m livechart 是 development，
    WSGI 入口（gunicorn livechart.wsgi:app）是 production（见 livechart/wsgi.py）。
    """
    if config is None:
        config = os.environ.get("LIVECHART_CONFIG", "").strip() or default
    if not isinstance(config, str):
        return config, None, None, None
    ref = configfile.locate(config)
    try:
        loaded = configfile.load(ref)
        if fallback:  # 载入了还不够：整个配置要能通过校验，否则同样退回上一份有效的内容
            settings.check(configfile.raw_config(loaded.config_class))
    except ConfigError as exc:
        good = configfile.last_good(ref) if fallback else None
        if good is None:
            raise
        loaded = configfile.load(ref, good)
        return loaded.config_class, ref, loaded, str(exc)
    return loaded.config_class, ref, loaded, None


def resolve_config(config: Any = None, default: str = "development") -> Any:
    """LIVECHART_CONFIG（或参数）→ 配置类（见 load_config）。"""
    return load_config(config, default)[0]


def start_scheduler(app: Flask) -> None:
    """按 LIVECHART_SCHEDULER 启动调度器；FLASK_DEBUG 不能让它静默停摆（docs/pitfalls.md 第 3 条）。"""
    mode = app.config["LIVECHART_SCHEDULER"]
    if mode == "off":
        return
    if is_running_from_reloader() or (get_debug_flag() and os.environ.get("FLASK_RUN_FROM_CLI") == "true"):
        # flask run --debug 会在重载器父进程和子进程各建一个 app：要么没有调度器，要么有两个
        raise ConfigError(
            "FLASK_DEBUG / Werkzeug 重载器：livechart 不能在重载器下运行（那样会启动零个或两个调度器）；"
            "请用 `python -m livechart`（make run）或 gunicorn 启动"
        )
    paused = mode == "paused"
    scheduler.start(paused=paused)
    if not scheduler.running and get_debug_flag():
        # Flask-APScheduler 的 start() 在 FLASK_DEBUG 且不在重载器子进程时什么也不做。
        # livechart 从不使用重载器，所以直接启动底层的 BackgroundScheduler
        app.logger.warning("FLASK_DEBUG 已设置：Flask-APScheduler 会跳过启动，livechart 直接启动调度器（不使用重载器）")
        scheduler.scheduler.start(paused=paused)
    if not scheduler.running:
        app.logger.warning("本主机 %r 不在 SCHEDULER_ALLOWED_HOSTS 中，调度器未启动", scheduler.host_name)


def describe_cache(app: Flask) -> str:
    """缓存后端的描述：类型，Redis 时加上主机（或套接字）与库号；从不包含密码。"""
    cache_type = str(app.config.get("CACHE_TYPE")).rsplit(".", 1)[-1]
    client = coordination.redis_client(app)
    pool = getattr(client, "connection_pool", None)
    if pool is None:
        return cache_type if client is not None else f"{cache_type}（仅本进程）"
    kwargs = pool.connection_kwargs
    if not (kwargs.get("path") or kwargs.get("host")):
        return cache_type  # 哨兵的连接池没有固定的主机：地址在 CACHE_REDIS_SENTINELS 里
    where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
    return f"{cache_type} {where} db {kwargs.get('db', 0)}"


def _origin(app: Flask, job: Any) -> str:
    """任务的间隔来自配置文件还是运行时的修改（多进程模式下记在 Redis 里）。"""
    chart = job.kwargs.get("chart")
    return coordination.origin(app, chart) if coordination.get(app).enabled and chart else "配置文件"


def describe(app: Flask, config_class: Any) -> str:
    """启动时的一行：配置类、缓存后端、角色、调度器状态与每个任务的间隔。"""
    name = getattr(config_class, "__qualname__", str(config_class))
    module = getattr(config_class, "__module__", "")
    state = "不运行任务（web 角色）" if app.config["LIVECHART_ROLE"] == "web" else app.config["LIVECHART_SCHEDULER"]
    if state == "running" and not scheduler.running:
        state = "未启动"
    # 调度器没启动时任务仍在（待定），照样列出
    job_list = [(job, job_interval(job)) for job in scheduler.get_jobs()] if app.config["LIVECHART_ROLE"] != "web" else []
    # 按任务 id 排序：几个进程写出同样的一行（对齐时任务的顺序可能不同）
    jobs_text = "、".join(
        f"{job.id} 每 {duration_text(seconds)}（{_origin(app, job)}{'，已暂停' if alignment.is_paused(job) else ''}）"
        if seconds
        else f"{job.id}（非间隔触发）"
        for job, seconds in sorted(job_list, key=lambda item: item[0].id)
    )
    return (
        f"livechart 配置 {module}.{name}；缓存 {describe_cache(app)}；角色 {app.config['LIVECHART_ROLE']}；"
        f"调度器 {state}；任务 {jobs_text or '无'}"
    )


def configure(app: Flask, config_class: Any, overrides: dict[str, Any] | None) -> settings.Settings:
    """把配置类（加上 overrides）写进 app.config 并校验，返回规范化之后的值；不对时抛出指明设置的 ConfigError。"""
    app.config.from_object(config_class)
    app.config.update(overrides or {})
    for key in COPIED_SETTINGS:
        if key in app.config:
            try:
                app.config[key] = copy.deepcopy(app.config[key])
            except Exception as exc:  # 锁、连接之类复制不了的对象：指明设置，而不是一个堆栈
                raise ConfigError(f"{key}：值必须是能复制的普通数据（{type(exc).__name__}: {exc}）") from None
    # 唯一的校验器（gunicorn 的主进程在 fork 之前用的也是它）
    checked = settings.check(app.config)
    app.config.update(
        LIVECHART_PORT=checked.port,
        LIVECHART_RENDER_PROCESSES=checked.render_processes,
        LIVECHART_FUTURE_MARGIN=checked.future_margin,
    )
    if settings.is_redis_cache(app.config.get("CACHE_TYPE")):
        # Redis 卡住时不让请求和任务一直等：1 秒超时，之后按不可用处理（store.Unavailable）
        options = app.config["CACHE_OPTIONS"] = dict(app.config.get("CACHE_OPTIONS") or {})
        options.setdefault("socket_timeout", 1)
        options.setdefault("socket_connect_timeout", 1)
        # redis-py 默认连不上时重试 10 次（指数退避，最多约 3 秒；卡住时每次还要等满超时）：只重试一次，
        # 够在 Redis 重启后换掉失效的连接，又不让任务和请求在 Redis 停掉时一等几秒（docs/pitfalls.md 第 31 条）
        options.setdefault("retry", Retry(ExponentialBackoff(cap=0.1, base=0.01), 1))
    if checked.role == "web":
        # 只提供图片与状态：不运行任务、不预热，也没有 /scheduler API（任务由 all 进程运行和控制）
        app.config.update(LIVECHART_SCHEDULER="off", LIVECHART_WARM_CACHE=False, SCHEDULER_API_ENABLED=False)
    if scheduler.running:
        raise ConfigError("调度器已经在为本进程里的另一个 app 运行：一个进程只能有一个 livechart app")
    return checked


def bind(app: Flask, checked: settings.Settings) -> None:
    """按顺序绑定扩展、注册路由。每一步依赖它前面的步骤（注释写明），调整顺序之前先看这里。"""
    charts, intervals = checked.charts, checked.intervals
    # 1. 字体：之后的任何绘制（预热、缓存未命中）都要用
    configure_fonts(app.config["LIVECHART_CJK_FONTS"])
    # 2. 缓存：图片、状态、协调都存在里面
    cache.init_app(app)
    # 3. 安全：/scheduler API 的守卫要在 Flask-APScheduler 注册它的路由之前装好
    security.init_app(app)
    # 4. 协调：它的 Redis 客户端来自缓存；历史窗口与任务都要问它谁是所有者
    coordination.init_app(app, intervals)
    # 5. 共享的滚动窗口：用协调的 Redis 客户端
    history.init_app(app, coordination.redis_client(app))
    # 6. 调度器：模块级的 scheduler 只服务最后绑定的 app，先清掉上一个 app 留下的待定任务；任务来自配置的 JOBS
    scheduler.remove_all_jobs()
    scheduler.init_app(app)
    # 7. 指标：重绘器计数要用它的计数器
    metrics.init_app(app, list(charts))
    # 8. 重绘器：每个图表的数据源与绘制器，并把“立即重绘”、补写、发布需求交给协调器（所以在 4 之后）
    jobs.init_app(app, charts, intervals)
    # 9. 错误处理与响应头：对所有路由生效（包括 Flask-APScheduler 的）；JSON 里的中文消息按 UTF-8 原样写出，
    #    curl 与日志里读得懂（而不是 \uXXXX）
    if isinstance(app.json, DefaultJSONProvider):
        app.json.ensure_ascii = False
    errors.init_app(app)
    headers.init_app(app)
    # 10. 路由
    app.register_blueprint(bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(data_api.bp)
    # 11. 快速路径：包在最外层的 WSGI 中间件，它的路径表来自 8 的图表
    fastpath.init_app(app)


def start(app: Flask) -> None:
    """开始运行：加入多进程的协调、预热缓存、启动调度器与协调线程（这个顺序：预热前要知道哪些图表暂停了、归谁画）。"""
    shared = coordination.get(app).enabled
    if app.config["LIVECHART_ROLE"] != "web" and app.config["LIVECHART_SCHEDULER"] != "off":
        # 预热之前：加入（所有权的份额按活着的进程数计算）并应用 Redis 中的期望状态（暂停的图表不预热）
        coordination.join(app)
    # 共用 Redis 而调度器不运行的进程不预热：它接手的图表之后不会续约
    if app.config["LIVECHART_WARM_CACHE"] and not (shared and app.config["LIVECHART_SCHEDULER"] == "off"):
        jobs.warm(app)
    start_scheduler(app)
    coordination.start(app)
