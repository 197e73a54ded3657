"""重新载入配置：保存配置模块（config.py，或 LIVECHART_CONFIG 指定的模块）之后两秒内生效，不用重启（docs/reload.md）。

每个进程（make run，gunicorn 的每个工作进程）有一个监视线程（livechart/reload_watch.py）。内容变了就隔离地载入
新的模块（livechart/configfile.py），用启动时的同一个校验器（livechart/settings.py）校验整个配置，再建好新图表的
数据源与绘制器（livechart/reload_plan.py）——任何一步出错，正在运行的配置原样不动，错误写一行日志并出现在
/api/charts（config_error）与页面上，直到下一次有效的保存（livechart/reload_status.py）。全部通过之后只应用差别
（livechart/reload_apply.py）；改了只能在启动时生效的设置（缓存后端、角色、地址、端口、渲染进程数、凭据……）：
报告“需要重启”，不悄悄忽略。只重新载入配置模块本身：数据源与绘制函数所在的模块不重新导入（改了它们要重启）。
本模块是入口：init_app、get、stop，以及把这几步串起来的 Reloader。
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask

from livechart import configfile
from livechart import jobs
from livechart import reload_apply
from livechart import reload_plan
from livechart import settings
from livechart.configfile import ConfigRef
from livechart.configfile import Loaded
from livechart.redact import secret_values
from livechart.reload_status import LoadStatus
from livechart.reload_status import new_file_secrets
from livechart.reload_watch import Watcher
from livechart.spec import ConfigError

log = logging.getLogger("livechart")

EXTENSION = "livechart.reload"


class Reloader:
    """一个 app 的配置监视与重新载入。配置不是来自一个文件时（直接传入的配置类）不监视，poll 总是 None。"""

    def __init__(
        self, app: Flask, ref: ConfigRef | None, overrides: dict[str, Any] | None, raw: dict[str, Any], loaded: Loaded | None
    ) -> None:
        self.app = app
        self.ref = ref if ref is not None and ref.path is not None else None
        self.overrides = dict(overrides or {})
        # 启动时的设置（只能在启动时生效的设置与它比较）与正在生效的设置
        self.started = raw
        self.running = raw
        self.state = LoadStatus()
        self.watcher = Watcher(self.ref, loaded, self._reload, self.state.failed) if self.ref is not None else None

    def start(self) -> None:
        """启动监视线程（配置来自一个文件时）。"""
        if self.watcher is not None:
            self.watcher.start()

    def close(self) -> None:
        """停止监视线程。"""
        if self.watcher is not None:
            self.watcher.close()

    def poll(self) -> str | None:
        """看一次配置文件；内容变了就重新载入。返回 "applied"、"failed"，没有变化时为 None。"""
        return self.watcher.poll() if self.watcher is not None else None

    def _reload(self, data: bytes) -> str:
        """载入、校验、准备这份内容，全部通过才应用。已持有监视的锁（一次只有一个重新载入）。"""
        assert self.ref is not None and self.watcher is not None
        secrets: list[str] = []
        try:
            raw = configfile.raw_config(configfile.load(self.ref, data).config_class, self.overrides)
            secrets = new_file_secrets(raw.get("CHARTS"))
            new = reload_plan.prepare(self.app, raw, self.running)
        except ConfigError as exc:
            return self.state.failed(str(exc), secrets)
        except Exception as exc:  # 数据源的构造函数等：同样不应用任何东西
            return self.state.failed(f"{self.ref.describe()}：{type(exc).__name__}: {exc}", secrets)
        # 新的文件有效：先清掉上一份的错误，再应用。反过来的话，/scheduler 已经是新的间隔时 /api/charts 还在报旧的错误。
        # 清掉之前记下有没有：日志那一行要说错误已改正
        fixed = self.state.error is not None
        self.state.error = None
        try:
            return self._apply(new, fixed)
        except Exception as exc:
            # 不应该发生（上面已经校验并建好了一切）；真发生了也要说出来，并在下一次 poll 重试，而不是悄悄停在半路
            log.exception("应用新的配置时出错")
            self.watcher.forget()
            return self.state.failed(f"{self.ref.describe()}：应用新的配置失败（{type(exc).__name__}: {exc}）")

    def _apply(self, new: reload_plan.Prepared, fixed: bool) -> str:
        """应用差别，记下正在生效的设置，写一行日志；fixed：上一次保存有错，这一次改好了。"""
        reload_apply.swap(self.app, new)
        live = settings.LIVE_SETTINGS
        self.running = {
            **{k: v for k, v in self.running.items() if k not in live},
            **{k: v for k, v in new.raw.items() if k in live},
        }
        self.state.reloaded_at = time.time()
        note = "（之前的错误已改正）" if fixed else ""
        log.info("配置已重新载入（%s）：%s%s", self.ref.describe() if self.ref else "?", new.plan.describe(), note)
        reload_apply.check_limits(self.app, new.plan)
        self.state.needs_restart(settings.restart_needed(self.started, new.raw))
        reload_apply.draw_soon(self.app, new.plan, new.redrawers)
        return "applied"

    def status(self) -> dict[str, Any]:
        """/api/charts 里的配置状态（livechart/reload_status.py）。"""
        running = [
            value for redrawer in jobs.redrawers(self.app).values() for value in secret_values(redrawer.spec.private_params)
        ]
        watching = self.watcher is not None and self.watcher.watching
        return self.state.report(self.ref.describe() if self.ref else None, running, watching)


def init_app(
    app: Flask,
    ref: ConfigRef | None,
    overrides: dict[str, Any] | None,
    raw: dict[str, Any],
    loaded: Loaded | None,
    problem: str | None = None,
) -> Reloader:
    """建立本 app 的重新载入器；LIVECHART_RELOAD 为真且配置来自一个文件时开始监视。
    problem：配置文件现在载入不了、本进程是用上一份有效的内容启动的（gunicorn 重启的工作进程）：报告它。"""
    reloader = app.extensions[EXTENSION] = Reloader(app, ref, overrides, raw, loaded)
    if problem is not None and reloader.watcher is not None:
        reloader.watcher.seen()  # 当作已经看过现在这份（有错的）内容：改好之前不再重复报告
        reloader.state.started_with(problem)
    if app.config.get("LIVECHART_RELOAD", True):
        reloader.start()
    return reloader


def get(app: Flask) -> Reloader | None:
    """本 app 的重新载入器（create_app 之外建的 app 没有）。"""
    return app.extensions.get(EXTENSION)


def stop(app: Flask) -> None:
    """停止监视（测试拆除、进程退出）。"""
    reloader = get(app)
    if reloader is not None:
        reloader.close()
