"""livechart：在内存中保持 Matplotlib 图表最新，并通过 HTTP 提供。"""

# 必须在任何可能导入 pyplot 的代码之前选择 Agg（无界面、线程外可用）
import matplotlib

matplotlib.use("Agg")

import copy
import os
from pathlib import Path
from typing import Any

from flask import Flask
from flask.helpers import get_debug_flag
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from werkzeug.serving import is_running_from_reloader

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
from livechart import reload
from livechart import security
from livechart import settings
from livechart.extensions import cache
from livechart.extensions import scheduler
from livechart.fonts import configure_fonts
from livechart.jobspec import job_interval
from livechart.spec import ConfigError
from livechart.views import bp

ROOT = Path(__file__).resolve().parent.parent
# 没有设置 LIVECHART_CONFIG 时 WSGI 入口（gunicorn）用的配置；gunicorn_config.py 在主进程里检查的也是它
WSGI_CONFIG = "production"
__all__ = ["ConfigError", "create_app"]


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
            settings.check(reload.raw_config(loaded.config_class))
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


def _start_scheduler(app: Flask) -> None:
    """按 LIVECHART_SCHEDULER 启动调度器；FLASK_DEBUG 不能让它静默停摆（docs/pitfalls.md 第 3 条）。"""
    mode = app.config["LIVECHART_SCHEDULER"]
    if mode == "off":
        return
    if is_running_from_reloader() or (get_debug_flag() and os.environ.get("FLASK_RUN_FROM_CLI") == "true"):
        # flask run --debug 会在重载器父进程和子进程各建一个 app：要么没有调度器，要么有两个
        raise ConfigError(
            "FLASK_DEBUG / the Werkzeug reloader: livechart must not run under the reloader (it would start zero or two "
            "schedulers); start it with `python -m livechart` (make run) or gunicorn"
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
        f"{job.id} 每 {seconds:g} 秒（{_origin(app, job)}{'，已暂停' if coordination.is_paused(job) else ''}）"
        if seconds
        else f"{job.id}（非间隔触发）"
        for job, seconds in sorted(job_list, key=lambda item: item[0].id)
    )
    return (
        f"livechart 配置 {module}.{name}；缓存 {describe_cache(app)}；角色 {app.config['LIVECHART_ROLE']}；"
        f"调度器 {state}；任务 {jobs_text or '无'}"
    )


def create_app(
    config: Any = None, overrides: dict[str, Any] | None = None, *, default: str = "development", fallback: bool = False
) -> Flask:
    """应用工厂：载入并校验配置，绑定扩展，注册蓝图，预热缓存，启动调度器。

    config：配置类，或 LIVECHART_CONFIG 那样的名字；None 时取 LIVECHART_CONFIG，没有设置时取 default。
    fallback：配置文件现在载入不了时用本进程记得的上一份有效内容启动并报告错误（gunicorn 的工作进程，见 load_config）。
    """
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    config_class, ref, loaded, problem = load_config(config, default, fallback=fallback)
    # 原样的设置（重新载入时与新的比较，见 livechart/reload.py）
    raw = reload.raw_config(config_class, overrides)
    app.config.from_object(config_class)
    app.config.update(overrides or {})
    # 配置类的属性被所有 app 共用，而 APScheduler 会改动传给它的字典（executors 的 "type" 被 pop 掉）：
    # 每个 app 用自己的副本
    for key in ("JOBS", "CHARTS", "SCHEDULER_EXECUTORS", "SCHEDULER_JOBSTORES", "SCHEDULER_JOB_DEFAULTS"):
        if key in app.config:
            try:
                app.config[key] = copy.deepcopy(app.config[key])
            except Exception as exc:  # 锁、连接之类复制不了的对象：指明设置，而不是一个堆栈
                raise ConfigError(f"{key}: values must be plain data that can be copied ({type(exc).__name__}: {exc})") from None
    # 唯一的校验器（gunicorn 的主进程在 fork 之前用的也是它）
    checked = settings.check(app.config)
    charts, intervals, role = checked.charts, checked.intervals, checked.role
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
    if role == "web":
        # 只提供图片与状态：不运行任务、不预热，也没有 /scheduler API（任务由 all 进程运行和控制）
        app.config.update(LIVECHART_SCHEDULER="off", LIVECHART_WARM_CACHE=False, SCHEDULER_API_ENABLED=False)
    if scheduler.running:
        raise ConfigError("scheduler: already running for another app in this process; one livechart app per process")

    configure_fonts(app.config["LIVECHART_CJK_FONTS"])
    cache.init_app(app)
    security.init_app(app)
    coordination.init_app(app, intervals)
    history.init_app(app, coordination.redis_client(app))
    # 模块级的 scheduler 只服务最后绑定的 app：先清掉上一个 app 留下的待定任务
    scheduler.remove_all_jobs()
    scheduler.init_app(app)
    metrics.init_app(app, list(charts))
    jobs.init_app(app, charts, intervals)
    errors.init_app(app)
    headers.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(data_api.bp)
    fastpath.init_app(app)

    shared = coordination.get(app).enabled
    if role != "web" and app.config["LIVECHART_SCHEDULER"] != "off":
        # 预热之前：加入（所有权的份额按活着的进程数计算）并应用 Redis 中的期望状态（暂停的图表不预热）
        coordination.join(app)
    # 共用 Redis 而调度器不运行的进程不预热：它接手的图表之后不会续约
    if app.config["LIVECHART_WARM_CACHE"] and not (shared and app.config["LIVECHART_SCHEDULER"] == "off"):
        jobs.warm(app)
    _start_scheduler(app)
    coordination.start(app)
    reload.init_app(app, ref, overrides, raw, loaded, problem)
    app.logger.info("%s", describe(app, config_class))
    return app
