"""重新载入配置的准备：校验新的配置，与正在运行的比较（Plan），建好新的重绘器——还什么都没有换上。

任何一步出错（校验不过、数据源建不起来），已经建好的数据源都关掉、异常照原样抛出，正在运行的配置原样不动
（livechart/reload.py 把它报告为载入错误）。全部通过之后由 livechart/reload_apply.py 应用差别。
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Flask

from livechart import coordination
from livechart import jobs
from livechart import settings
from livechart.redrawer import Redrawer


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
                parts.append(f"图表 {chart} 的任务选项 {'、'.join(options)}")
        if self.added:
            parts.append(f"新增图表 {'、'.join(self.added)}")
        if self.removed:
            parts.append(f"删除图表 {'、'.join(self.removed)}")
        for chart in self.respecced:
            kept = "换了数据源，窗口从头开始" if chart in self.new_source else "数据源没变，窗口保留"
            parts.append(f"图表 {chart} 的规格变了（{kept}）")
        if self.settings:
            parts.append(f"设置 {'、'.join(self.settings)}")
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


@dataclass(frozen=True)
class Prepared:
    """校验通过、都已建好、还没有换上的新配置。"""

    plan: Plan
    # 新文件里的全部设置（原样）与校验、规范化之后的
    raw: dict[str, Any]
    checked: settings.Settings
    # 新文件声明的任务（coordination.declared_jobs）
    declared: dict[str, dict[str, Any]]
    # 新配置的全部重绘器（没变的图表就是原来那个）与正在运行的
    redrawers: dict[str, Redrawer]
    previous: dict[str, Redrawer]


def prepare(app: Flask, raw: dict[str, Any], running: dict[str, Any]) -> Prepared:
    """校验新的设置 raw，与正在运行的（running 与本 app 的重绘器、声明的任务）比较，建好新增的图表与规格变了的
    图表的重绘器。出错时抛出 ConfigError（或数据源构造函数等的异常），已经建好的数据源都已关掉。"""
    checked = settings.check(raw)
    declared = coordination.declared_jobs(raw["JOBS"], checked.intervals)
    previous = jobs.redrawers(app)
    old_specs = {name: redrawer.spec for name, redrawer in previous.items()}
    change = plan(old_specs, coordination.get(app).declared, running, checked, declared, raw)
    redrawers: dict[str, Redrawer] = {}
    built: list[Redrawer] = []
    render_pool = app.extensions.get(jobs.POOL)
    try:
        for name, spec in checked.charts.items():
            old = previous.get(name)
            if old is None:
                redrawer = jobs.build_redrawer(app, spec, checked.intervals[name], render_pool)
                built.append(redrawer)
            elif name in change.respecced:
                redrawer = jobs.successor(app, old, spec, checked.intervals[name])
                if redrawer.source is not old.source:
                    built.append(redrawer)
            else:
                redrawer = old
            redrawers[name] = redrawer
    except Exception:
        for redrawer in built:
            redrawer.close_source()
        raise
    return Prepared(change, raw, checked, declared, redrawers, previous)
