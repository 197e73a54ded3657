"""gunicorn 的设置（make run-prod）：gunicorn -c python:livechart.gunicorn_config livechart.wsgi:app

环境变量：LIVECHART_CONFIG（make run-prod 默认 production）、LIVECHART_REDIS_URL、WEB_CONCURRENCY（工作进程数）、
LIVECHART_THREADS（每个进程运行 Flask 的线程数）、LIVECHART_HOST / LIVECHART_PORT。

工作进程是 livechart.asgi.Worker（gunicorn 的 asyncio 工作进程）：请求头和请求体都在事件循环里读完才交给
线程里的 Flask，慢客户端占不住线程，可以直接面对客户端（docs/pitfalls.md 第 21 条；gthread 做不到）。

没有 preload：--preload 会在主进程里建 app 并启动调度器线程，fork 之后线程就没了（docs/pitfalls.md 第 4 条）。
每个工作进程自己 create_app，自己有一个调度器；用 Redis 时由 livechart.coordination 保证每个节拍只渲染一次。

指标：主进程启动时准备 prometheus-client 多进程模式的目录（tmpfs，或用户的 PROMETHEUS_MULTIPROC_DIR），
工作进程退出时标记它已死，服务器退出时删除自己建的目录：任何一个工作进程的 /metrics 都是整个服务器
（livechart.metrics，docs/pitfalls.md 第 29 条）。
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from flask import Config as FlaskConfig

from livechart import ROOT
from livechart import WSGI_CONFIG
from livechart import ConfigError
from livechart import configfile
from livechart import load_config
from livechart import metrics
from livechart import resolve_config
from livechart import settings


def _count(name: str, default: int) -> int:
    """正整数环境变量；错误时给出指明变量的消息。"""
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name} 必须是不小于 1 的整数，收到 {raw!r}")
    return value


def check_deployment(config_class: Any, workers: int) -> FlaskConfig:
    """在主进程里、fork 工作进程之前检查部署：出错时抛出指明原因的 ConfigError。"""
    config = FlaskConfig(str(ROOT))
    config.from_object(resolve_config(config_class))
    checked = settings.check(config)  # 与 create_app 同一个校验器
    if workers > 1 and not settings.is_redis_cache(config.get("CACHE_TYPE")):
        raise ConfigError(
            f"WEB_CONCURRENCY={workers} 而 CACHE_TYPE={config.get('CACHE_TYPE')!r}：这种缓存只在一个进程里，"
            "每个工作进程会各自运行任务、各自画图，/scheduler 也只代表它自己；"
            "请设置 LIVECHART_REDIS_URL（所有工作进程共用的 Redis），或者设 WEB_CONCURRENCY=1"
        )
    config["LIVECHART_PORT"] = checked.port
    return config


# 部署有问题时 on_starting 报告的开头（gunicorn 在前面加上 "Error: "）
REFUSED = "livechart 拒绝启动："
# 出错时先记下，在 on_starting 里报告：gunicorn 把那里的 RuntimeError 打印成一行 "Error: …" 并以 1 退出，
# 而导入配置文件时的异常会变成一大段堆栈
_problem: ConfigError | None = None
try:
    workers = _count("WEB_CONCURRENCY", 2)
    threads = _count("LIVECHART_THREADS", 4)
    _class, _ref, _loaded, _ = load_config(default=WSGI_CONFIG)
    _settings = check_deployment(_class, workers)
    configfile.remember(_ref, _loaded)  # 工作进程遇到有错的配置文件时可以退回的内容
    _host = _settings["LIVECHART_HOST"]
    # IPv6 地址要加方括号（gunicorn 把 ":::8000" 当成空端口）
    bind = [f"{f'[{_host}]' if ':' in _host else _host}:{_settings['LIVECHART_PORT']}"]
except ConfigError as exc:
    _problem = exc
worker_class = "livechart.asgi.Worker"
preload_app = False
# SIGTERM 后最多等这么久让请求结束，整个进程在 5 秒内退出
graceful_timeout = 3
# gunicorn 27 的控制套接字（$HOME/.gunicorn/gunicorn.ctl）：livechart 不用它，几个实例也不该抢同一个路径
control_socket_disable = True
errorlog = "-"
loglevel = os.environ.get("LIVECHART_LOG_LEVEL", "info")
proc_name = "livechart"


# 多进程指标的目录（on_starting 里准备，on_exit 里删除）
_metrics_dir: metrics.MultiprocessDirectory | None = None


def on_starting(server: Any) -> None:
    """主进程启动时：部署有问题就拒绝启动，并说明原因；然后在 fork 工作进程之前切换到多进程指标。"""
    global _metrics_dir
    if _problem is not None:
        raise RuntimeError(f"{REFUSED}{_problem}")
    try:
        _metrics_dir = metrics.enable_multiprocess()
    except ConfigError as exc:
        raise RuntimeError(f"{REFUSED}{exc}") from exc
    server.log.info("所有工作进程的指标都在 %s", _metrics_dir.path)


def pre_fork(server: Any, worker: Any) -> None:
    """（主进程）fork 每个工作进程之前载入一次配置文件：有效时它就是工作进程有错时可以退回的内容
    （livechart/configfile.py 的 last_good）；无效时保留上一份，由工作进程报告错误。"""
    with contextlib.suppress(ConfigError):
        config_class, ref, loaded, _ = load_config(default=WSGI_CONFIG)
        check_deployment(config_class, workers)
        configfile.remember(ref, loaded)


def post_fork(server: Any, worker: Any) -> None:
    """（工作进程，载入 app 之前）有绘制进程时先启动 forkserver：它导入 Matplotlib 与 pandas 的同时，工作进程在建 app，
    第一张图不用等两者先后做完（livechart/pool.py）。"""
    from livechart import pool

    with contextlib.suppress(ConfigError, KeyError, TypeError):
        if _problem is None and settings.render_processes(_settings["LIVECHART_RENDER_PROCESSES"]) > 0:
            pool.start_forkserver()


def child_exit(server: Any, worker: Any) -> None:
    """（主进程）工作进程退出后：删除它的 live* 仪表文件；它的计数仍留在合计里。"""
    if _metrics_dir is not None:
        _metrics_dir.mark_dead(worker.pid)


def on_exit(server: Any) -> None:
    """（主进程）服务器退出时：删除自己建的指标目录（用户指定的目录保留）。"""
    if _metrics_dir is not None:
        _metrics_dir.remove()


def post_worker_init(worker: Any) -> None:
    """工作进程收到 SIGTERM 时立即叫醒所有在等数据源的线程（gunicorn 先等请求结束，之后才调用 worker_exit）。"""
    import signal

    from livechart import deadline

    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum: int, frame: Any) -> None:
        deadline.stop_waiting()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, stop)


def worker_exit(server: Any, worker: Any) -> None:
    """工作进程退出时停下它的 app（livechart/shutdown.py）：不再开始新的重绘；正在进行的重绘被放弃（图片仍是上一张）。"""
    from flask import Flask

    from livechart import deadline
    from livechart import shutdown

    if worker.pid != os.getpid():
        return  # 主进程在工作进程已经不在时（ESRCH）也会调用这个钩子：那不是我们要结束的进程

    # 卡住的数据源不能让工作进程不退出（主进程在 graceful_timeout 之后才会 SIGKILL 它）
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):
        shutdown.stop(app, exit_within=graceful_timeout - 0.5)
    else:
        deadline.exit_within(graceful_timeout - 0.5)  # app 还没载入好（载入时出错）
