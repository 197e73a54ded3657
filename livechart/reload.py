"""重新载入配置：保存配置模块（config.py，或 LIVECHART_CONFIG 指定的模块）之后两秒内生效，不用重启（docs/reload.md）。

每个进程（make run，gunicorn 的每个工作进程）有一个监视线程，每 POLL_SECONDS 秒 stat 一次配置文件；
(inode, 大小, 修改时间) 变了、或修改时间还很近（一秒粒度的文件系统上同一秒的两次保存），才读出内容比较摘要。
内容变了就隔离地载入新的模块（livechart/configfile.py），用启动时的同一个校验器（livechart/settings.py）校验
整个配置，再建好新图表的数据源与绘制器——任何一步出错，正在运行的配置原样不动，错误写一行日志并出现在
/api/charts（config_error）与页面上，直到下一次有效的保存。全部通过之后只应用差别：
- 任务的间隔与选项变了：以文件为准（覆盖之前运行时对这个任务的修改，docs/reload.md 的优先规则），暂停保留；
- 新增的图表：建任务、预热（几个进程时由认领到节拍的那一个画），页面自己加上它；
- 删掉的图表：删任务，删它的图片、版本号、错误记录、窗口、租约与期望状态（Redis 里的键），指标序列，路由回答 404；
- 规格变了的图表：换新的绘制器并立即重绘；数据源没变时窗口保留，变了时窗口从头开始；
- 改了只能在启动时生效的设置（缓存后端、角色、地址、端口、渲染进程数、凭据……）：报告“需要重启”，不悄悄忽略。
只重新载入配置模块本身：数据源与绘制函数所在的模块不重新导入（改了它们要重启）。
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import Flask

from livechart import configfile
from livechart import coordination
from livechart import drawing
from livechart import history
from livechart import jobs
from livechart import metrics
from livechart import settings
from livechart import store
from livechart.configfile import ConfigRef
from livechart.configfile import Loaded
from livechart.extensions import scheduler
from livechart.jobspec import IntervalLimits
from livechart.jobspec import job_interval
from livechart.redact import scrub
from livechart.redact import secret_values
from livechart.spec import ConfigError
from livechart.spec import job_id_for

log = logging.getLogger("livechart")

EXTENSION = "livechart.reload"
# 监视的周期（秒）：保存之后最多这么久开始载入。每次只是一个 stat（bench/reload.py 测量了开销）
POLL_SECONDS = 0.5
# 修改时间离现在这么近（秒）时，即使 stat 没变也比较内容：修改时间只精确到秒的文件系统上，同一秒里的第二次保存
# 可能与第一次的 stat 完全相同
RECENT_SECONDS = 2.0
# 修改时间离现在不到这么久（秒）时先不读：编辑器可能正写到一半（先截断、再写），读到的是半个文件
SETTLE_SECONDS = 0.2
# 删掉的图表：最多等它正在进行的重绘这么久，再删它的键（否则那次重绘画完又把图片写回去）
REMOVE_WAIT_SECONDS = 2.0


def _copy(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


def raw_config(config_class: Any, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """配置类（加上 create_app 的 overrides）里的全部设置，与 Flask 的 from_object 取的一样（大写的属性），各自复制一份。"""
    raw = {key: getattr(config_class, key) for key in dir(config_class) if key.isupper()}
    raw.update(overrides or {})
    return {key: _copy(value) for key, value in raw.items()}


def _source_secrets(charts: Any) -> list[str]:
    """新文件的 CHARTS 里数据源参数与绘图函数 kwargs 的机密原文（文件还没通过校验：能找到多少算多少）。"""
    found: list[str] = []
    if isinstance(charts, dict):
        for spec in charts.values():
            source = spec.get("source") if isinstance(spec, dict) else None
            if isinstance(source, dict):
                found += secret_values(source)
            draw = spec.get("draw") if isinstance(spec, dict) else None
            if isinstance(draw, dict) and isinstance(draw.get("kwargs"), dict):
                found += secret_values(draw["kwargs"])
    return found


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()


@dataclass(frozen=True)
class Plan:
    """新旧两份有效配置之间的差别。"""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # 规格变了的图表，以及其中换了数据源的
    respecced: tuple[str, ...] = ()
    new_source: tuple[str, ...] = ()
    # 两份配置里都有、任务声明（间隔与选项）变了的图表：图表名 → (旧声明, 新声明)
    jobs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    # 变了的别的可以在运行中换上的设置
    settings: tuple[str, ...] = ()
    # 图表的顺序变了（页面的顺序；/plot.png 是第一个）时为新的顺序
    order: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.respecced or self.jobs or self.settings or self.order)

    def describe(self) -> str:
        """日志里的一行：改了什么。"""
        parts = []
        for chart, (old, new) in self.jobs.items():
            if old.get("seconds") != new.get("seconds"):
                parts.append(f"图表 {chart} 的间隔 {old.get('seconds'):g} → {new.get('seconds'):g} 秒")
            options = sorted(key for key in set(old) | set(new) if key != "seconds" and old.get(key) != new.get(key))
            if options:
                parts.append(f"图表 {chart} 的任务选项 {', '.join(options)}")
        if self.added:
            parts.append(f"新增图表 {', '.join(self.added)}")
        if self.removed:
            parts.append(f"删除图表 {', '.join(self.removed)}")
        for chart in self.respecced:
            kept = "换了数据源，窗口从头开始" if chart in self.new_source else "数据源没变，窗口保留"
            parts.append(f"图表 {chart} 的规格变了（{kept}）")
        if self.settings:
            parts.append(f"设置 {', '.join(self.settings)}")
        if self.order:
            parts.append(f"图表的顺序 {'、'.join(self.order)}（/plot.png 是 {self.order[0]}）")
        return "；".join(parts) or "没有要应用的变化"


def plan(
    old_specs: dict[str, Any],
    old_declared: dict[str, dict[str, Any]],
    old_raw: dict[str, Any],
    checked: settings.Settings,
    new_declared: dict[str, dict[str, Any]],
    new_raw: dict[str, Any],
) -> Plan:
    """比较正在运行的配置与新的（已校验的）配置。"""
    added = tuple(name for name in checked.charts if name not in old_specs)
    removed = tuple(name for name in old_specs if name not in checked.charts)
    both = [name for name in checked.charts if name in old_specs]
    respecced = tuple(name for name in both if old_specs[name] != checked.charts[name])
    new_source = tuple(name for name in respecced if old_specs[name].source_key != checked.charts[name].source_key)
    changed_jobs = {name: (old_declared.get(name) or {}, new_declared[name]) for name in both
                    if old_declared.get(name) != new_declared.get(name)}  # fmt: skip
    live = tuple(name for name in settings.LIVE_SETTINGS
                 if name not in ("CHARTS", "JOBS") and not settings.same(old_raw.get(name), new_raw.get(name)))  # fmt: skip
    kept = [name for name in checked.charts if name in old_specs]
    order = tuple(checked.charts) if kept != [name for name in old_specs if name in checked.charts] or (
        next(iter(old_specs)) != next(iter(checked.charts))) else ()  # fmt: skip
    return Plan(added, removed, respecced, new_source, changed_jobs, live, order)


class Reloader:
    """一个 app 的配置监视与重新载入。"""

    def __init__(
        self, app: Flask, ref: ConfigRef | None, overrides: dict[str, Any] | None, raw: dict[str, Any], loaded: Loaded | None
    ) -> None:
        self.app = app
        self.ref = ref if ref is not None and ref.path is not None else None
        self.overrides = dict(overrides or {})
        # 启动时的设置（只能在启动时生效的设置与它比较）与正在生效的设置
        self.started = raw
        self.running = raw
        # 载入时的内容摘要与读之前的 signature：启动期间（预热时）的保存，第一次 poll 就会发现
        self.digest = loaded.digest if loaded else ""
        self.signature = loaded.signature if loaded else None
        # 最近一次载入失败：{"message", "at"}；有效的保存之后为 None
        self.error: dict[str, Any] | None = None
        # 改了、要重启才生效的设置
        self.restart: list[str] = []
        self.restart_at: float | None = None
        self.reloaded_at: float | None = None
        # 配置文件不见了的时刻（monotonic）：编辑器先删再写时只是一瞬间
        self.missing_since: float | None = None
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    # ------------------------------------------------------------ 监视

    def start(self) -> None:
        """启动监视线程（配置来自一个文件时）。"""
        if self.ref is None or self.thread is not None:
            return
        self.thread = threading.Thread(target=self._watch, name="livechart-reload", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """停止监视线程。"""
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=2)

    def _watch(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            try:
                self.poll()
            except Exception:
                log.exception("检查配置文件失败")

    def poll(self) -> str | None:
        """看一次配置文件；内容变了就重新载入。返回 "applied"、"failed"，没有变化时为 None。"""
        if self.ref is None or self.ref.path is None:
            return None
        with self.lock:
            signature = configfile.signature(self.ref.path)
            age = time.time() - signature[2] / 1e9 if signature is not None else None
            if signature == self.signature and not (age is not None and age < RECENT_SECONDS):
                return self._draw_modules()
            if age is not None and age < SETTLE_SECONDS:
                return None  # 可能正写到一半（先截断再写的编辑器）：下一次再看
            self.signature = signature
            if signature is None:
                # 编辑器先删再写：等文件回来；一直不在（超过一个周期）才报告
                if self.missing_since is None:
                    self.missing_since = time.monotonic()
                    self.signature = ("missing",)  # type: ignore[assignment]  # 下一次 poll 再看
                elif self.error is None or "cannot read" not in self.error["message"]:
                    self.digest = ""
                    return self._failed(f"{self.ref.describe()}: cannot read it (No such file or directory)")
                return None
            self.missing_since = None
            try:
                data = configfile.read(self.ref)
            except ConfigError as exc:
                return self._failed(str(exc))
            digest = configfile.digest(data)
            if digest == self.digest:
                return self._draw_modules(data)
            self.digest = digest
            return self._reload(data)

    def _draw_modules(self, data: bytes | None = None) -> str | None:
        """配置文件没变，但绘图函数所在的模块改了：按现在的配置文件重新载入，用到改了的函数的图表换新的绘制器
        （规格里记着模块内容的摘要，见 drawing.DrawSpec.code）。已持有 self.lock。"""
        if not drawing.changed_modules(SETTLE_SECONDS) or not self.digest:
            return None
        assert self.ref is not None
        try:
            return self._reload(configfile.read(self.ref) if data is None else data)
        except ConfigError as exc:
            return self._failed(str(exc))

    # ------------------------------------------------------------ 载入

    def _failed(self, message: str, secrets: list[str] | None = None) -> str:
        """载入失败：正在运行的配置不动，错误写一行日志（与启动时的消息相同），并出现在状态里。
        secrets：新文件里数据源参数的机密原文（公开的消息里抹掉，与正在运行的图表的一样）。"""
        self.error = {"message": message, "at": time.time(), "secrets": secrets or []}
        log.error("configuration error: %s（仍按上一份有效的配置运行，改好并保存后自动载入）", message)
        return "failed"

    def _reload(self, data: bytes) -> str:
        assert self.ref is not None
        app = self.app
        built: list[jobs.ChartWorker] = []
        secrets: list[str] = []
        try:
            new_class = configfile.load(self.ref, data).config_class
            raw = raw_config(new_class, self.overrides)
            secrets = _source_secrets(raw.get("CHARTS"))
            checked = settings.check(raw)
            new_declared = coordination.declared_jobs(raw["JOBS"], checked.intervals)
            current = jobs.workers(app)
            change = plan({n: w.spec for n, w in current.items()}, coordination.get(app).declared, self.running, checked,
                          new_declared, raw)  # fmt: skip
            workers: dict[str, jobs.ChartWorker] = {}
            render_pool = app.extensions.get(jobs.POOL)
            for name, spec in checked.charts.items():
                old = current.get(name)
                if old is None:
                    worker = jobs.build_worker(app, spec, checked.intervals[name], render_pool)
                    built.append(worker)
                elif name in change.respecced:
                    worker = jobs.successor(app, old, spec, checked.intervals[name])
                    if worker.source is not old.source:
                        built.append(worker)
                else:
                    worker = old
                workers[name] = worker
        except ConfigError as exc:
            self._close(built)
            return self._failed(str(exc), secrets)
        except Exception as exc:  # 数据源的构造函数等：同样不应用任何东西
            self._close(built)
            return self._failed(f"{self.ref.describe()}: {type(exc).__name__}: {exc}", secrets)
        # 新的文件有效：先清掉上一份的错误，再应用。反过来的话，/scheduler 已经是新的间隔时 /api/charts 还在报旧的错误
        self.error = None
        try:
            self._apply(change, workers, current, raw, checked, new_declared)
        except Exception as exc:
            # 不应该发生（上面已经校验并建好了一切）；真发生了也要说出来，并在下一次 poll 重试，而不是悄悄停在半路
            log.exception("应用新的配置时出错")
            self.digest, self.signature = "", None
            return self._failed(f"{self.ref.describe()}: applying the new configuration failed: {type(exc).__name__}: {exc}")
        return "applied"

    @staticmethod
    def _close(built: list[jobs.ChartWorker]) -> None:
        for worker in built:
            worker.close_source()

    # ------------------------------------------------------------ 应用

    def _apply(
        self,
        change: Plan,
        workers: dict[str, jobs.ChartWorker],
        previous: dict[str, jobs.ChartWorker],
        raw: dict[str, Any],
        checked: settings.Settings,
        declared: dict[str, dict[str, Any]],
    ) -> None:
        """应用差别（已全部校验、新图表的数据源与绘制器都已建好，不会半途而废）。"""
        app = self.app
        coordinator = coordination.get(app)
        with app.app_context():
            with coordinator.lock:
                for name in settings.LIVE_SETTINGS:
                    if name in raw:
                        app.config[name] = _copy(raw[name])
                app.config["LIVECHART_FUTURE_MARGIN"] = checked.future_margin
                if coordinator.enabled:
                    app.config["JOBS"] = [coordination.aligned(job) for job in app.config["JOBS"]]
                for chart in change.removed:  # 先删任务：之后不会再开始新的重绘
                    if scheduler.get_job(job_id_for(chart)) is not None:
                        scheduler.remove_job(job_id_for(chart))
                for name, worker in workers.items():
                    worker.interval = checked.intervals[name]
                    worker.fetch_seconds = jobs.fetch_deadline(worker.spec.source_params, app.config["LIVECHART_FETCH_TIMEOUT"])
                for chart in (*change.removed, *change.new_source):
                    # 删掉的图表与换下来的数据源：正在进行的重绘画完也不再写任何东西
                    previous[chart].retired = True
                # 先换上新的声明（web 角色的状态从它读间隔），再换上新的重绘器
                coordinator.redeclare(declared)
                app.extensions[jobs.EXTENSION] = workers
                self._refresh_fast_path()
                for chart in change.added:
                    metrics.add(app, chart)
                    store.forget_copy(chart)  # 以前同名图表的副本（跟随线程可能替没重新载入的进程读进来过）
                for chart in change.added:
                    self._apply_job(chart, declared[chart])
                for chart, (old, _) in change.jobs.items():
                    self._apply_job(chart, declared[chart], old)
            for chart in change.removed:
                self._forget(chart, previous[chart])
            for chart in change.new_source:
                # 窗口由新数据源的第一次写入清空（livechart/history.py 的数据源指纹）；旧的数据源在用它的重绘结束后关闭
                self._close_later(previous[chart])
        self.running = {**{k: v for k, v in self.running.items() if k not in settings.LIVE_SETTINGS},
                        **{k: v for k, v in raw.items() if k in settings.LIVE_SETTINGS}}  # fmt: skip
        self.reloaded_at = time.time()
        fixed = "（之前的错误已改正）" if self.error is not None else ""
        log.info("配置已重新载入（%s）：%s%s", self.ref.describe() if self.ref else "?", change.describe(), fixed)
        self._check_limits(change)
        restart = settings.restart_needed(self.started, raw)
        if restart != self.restart:
            self.restart, self.restart_at = restart, time.time() if restart else None
            if restart:
                log.warning("配置文件改了 %s：这些设置要重启 livechart 才生效（正在运行的仍是启动时的值）", ", ".join(restart))
            else:
                log.info("需要重启才生效的设置又与启动时相同了")
        self._draw_soon(change, workers)

    def _check_limits(self, change: Plan) -> None:
        """新的间隔上下限：运行中已经超出范围的任务（运行时改过的间隔）说出来，不悄悄留着。"""
        if not {"LIVECHART_MIN_INTERVAL", "LIVECHART_MAX_INTERVAL"} & set(change.settings):
            return
        limits = IntervalLimits.of(self.app.config)
        for name in jobs.workers(self.app):
            seconds = job_interval(scheduler.get_job(job_id_for(name)))
            if seconds is not None and not limits.low <= seconds <= limits.high:
                log.warning(
                    "任务 %s 的间隔 %g 秒（运行时改的）不在新的范围 [%g, %g] 秒内：它照旧运行；用 PATCH 或在配置文件里改它",
                    job_id_for(name), seconds, limits.low, limits.high,
                )  # fmt: skip

    def _apply_job(self, chart: str, declared: dict[str, Any], previous: dict[str, Any] | None = None) -> None:
        """新增的图表、任务声明变了的图表：按文件建任务或改任务（文件改过的任务以文件为准，暂停保留）。"""
        app = self.app
        coordinator = coordination.get(app)
        if not coordinator.enabled:
            # 文件声明的就是任务的全部：没有声明的选项回到默认值（之前运行时的修改作废），暂停保留
            want = {**coordination.job_defaults(app, chart), **declared}
            job = scheduler.get_job(job_id_for(chart))
            if job is not None and previous is not None:
                # 运行时改过（与旧的声明不同）的，说出来：与多进程时 settle_precedence 的那一行一样
                before = {"seconds": job_interval(job), **{k: getattr(job, k, None) for k in want if k != "seconds"}}
                was = {**coordination.job_defaults(app, chart), **previous}
                runtime = {k: v for k, v in before.items() if v != was.get(k)}
                if runtime:
                    log.warning("配置文件改过图表 %s 的任务：以配置文件为准，作废运行时的修改 %s", chart, runtime)
            coordination.apply(app, chart, want)
            return
        try:
            coordination.settle_precedence(app, [chart])
            want = coordinator.desired_one(chart)
        except store.Unavailable:
            want = {}  # Redis 恢复后对齐线程再按期望状态对齐
        coordination.apply(app, chart, want)

    def _refresh_fast_path(self) -> None:
        from livechart import fastpath

        if fastpath.EXTENSION in self.app.extensions:
            fastpath.refresh(self.app)

    def _forget(self, chart: str, worker: jobs.ChartWorker) -> None:
        """删掉的图表：等它正在进行的重绘（最多 REMOVE_WAIT_SECONDS 秒），再删掉它在缓存与 Redis 里的一切。"""
        app = self.app
        acquired = worker.lock.acquire(timeout=REMOVE_WAIT_SECONDS)
        coordinator = coordination.get(app)
        try:
            if coordinator.still_declared_elsewhere(chart):
                # 别的进程还没重新载入（或配置不同）：共享的键留给最后一个不再声明它的进程删，
                # 否则很快又加回来时，没看到删除的进程与看到了的进程状态不一致（如运行时的暂停）
                coordinator.release(chart)
                coordinator.owned.pop(chart, None)
                store.forget_copy(chart)
            else:
                coordinator.forget_chart(chart)
                history.get(app).remove(chart)
                store.forget(chart)
        except store.Unavailable:
            log.warning("图表 %s 已删除，但缓存（Redis）不可用：它的键没有删掉，同名的图表再加回来时会接着用它们", chart)
        finally:
            if acquired:
                worker.lock.release()
        metrics.forget(app, chart)
        jobs.demand(app).forget(chart)
        worker.close_source()

    @staticmethod
    def _close_later(worker: jobs.ChartWorker) -> None:
        """换下来的数据源：等用它的那次重绘结束再关闭（锁与新的重绘器共用）。"""

        def close() -> None:
            acquired = worker.lock.acquire(timeout=worker.fetch_seconds + REMOVE_WAIT_SECONDS)
            try:
                worker.close_source()
            finally:
                if acquired:
                    worker.lock.release()

        threading.Thread(target=close, name=f"livechart-close-{worker.spec.name}", daemon=True).start()

    def _draw_soon(self, change: Plan, workers: dict[str, jobs.ChartWorker]) -> None:
        """新增的图表预热（几个进程时认领到节拍的那一个画）；规格变了的图表由所有者立即重绘。暂停的图表不画。"""
        app = self.app
        coordinator = coordination.get(app)
        if not app.config["LIVECHART_WARM_CACHE"] or (coordinator.enabled and app.config["LIVECHART_SCHEDULER"] == "off"):
            return

        with app.app_context():
            held = coordination.held_back(app)  # 与启动时的预热一样：整个服务或这个任务暂停时不画

        def draw(name: str, worker: jobs.ChartWorker, new: bool) -> None:
            with app.app_context():
                job = scheduler.get_job(job_id_for(name))
                if name in held or job is None or coordination.is_paused(job):
                    return
                if new:
                    if jobs.claim_tick(name, worker):
                        worker.redraw()
                elif coordinator.owns(name):
                    worker.redraw(urgent=True)

        for name in (*change.added, *change.respecced):
            thread = threading.Thread(target=draw, args=(name, workers[name], name in change.added), daemon=True,
                                      name=f"livechart-reload-{name}")  # fmt: skip
            thread.start()

    # ------------------------------------------------------------ 状态

    def status(self) -> dict[str, Any]:
        """/api/charts 里的配置状态：监视的文件、最近一次载入，载入错误（config_error）与需要重启的设置。
        公开的消息去掉数据源的机密（与图表的错误一样，livechart/redact.py）。"""
        file = self.ref.describe() if self.ref else None
        error = None
        if self.error is not None:
            running = [value for worker in jobs.workers(self.app).values() for value in secret_values(worker.spec.private_params)]
            secrets = sorted({*running, *self.error["secrets"]}, key=len, reverse=True)
            error = {"message": scrub(self.error["message"], secrets), "at": _iso(self.error["at"]), "file": file}
        restart = None
        if self.restart:
            restart = {
                "settings": list(self.restart),
                "message": f"{', '.join(self.restart)} changed in {file}: restart livechart (under gunicorn, kill -HUP "
                f"the master is enough) to apply {'it' if len(self.restart) == 1 else 'them'}; the running values are "
                "the ones it started with",
                "at": _iso(self.restart_at),
            }
        return {
            "config": {
                "file": file,
                "watching": self.thread is not None and self.thread.is_alive(),
                "reloaded_at": _iso(self.reloaded_at),
            },
            "config_error": error,
            "config_restart_needed": restart,
        }


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
    if problem is not None and reloader.ref is not None:
        # 当作已经看过现在这份（有错的）内容：改好之前不再重复报告
        with contextlib.suppress(ConfigError):
            reloader.digest = configfile.digest(configfile.read(reloader.ref))
        reloader.signature = configfile.signature(reloader.ref.path)
        reloader.error = {"message": problem, "at": time.time(), "secrets": []}
        log.error("configuration error: %s（本进程用主进程记得的上一份有效配置启动，改好并保存后自动载入）", problem)
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
