"""配置：选择配置类，启动时校验 CHARTS 与 JOBS 并给出指明出错位置的消息。"""

from __future__ import annotations

import copy
from typing import Any

import pytest

import config
from livechart import ConfigError
from livechart import resolve_config
from livechart.settings import parse_settings
from livechart.spec import chart_of_job
from livechart.spec import job_id_for


def settings(**changes: Any) -> dict[str, Any]:
    """开发配置的 CHARTS/JOBS 副本，附加修改。"""
    base = {"CHARTS": copy.deepcopy(config.Config.CHARTS), "JOBS": copy.deepcopy(config.Config.JOBS), "LIVECHART_MIN_INTERVAL": 1}
    base.update(changes)
    return base


def test_default_config_is_valid_and_literal() -> None:
    charts, intervals = parse_settings(settings())
    assert list(charts) == ["cpu", "demo"]
    assert intervals == {"cpu": 2, "demo": 1}
    # JOBS 是 Flask-APScheduler 的原样任务列表：每个图表一个 redraw-<name> 任务
    for job in config.Config.JOBS:
        assert job["id"] == f"redraw-{job['kwargs']['chart']}"
        assert job["func"] == "livechart.jobs:redraw"
        assert job["trigger"] == "interval"


def test_job_ids_and_chart_names_convert_both_ways() -> None:
    """任务 id 与图表名的换算只在 spec 里（job_id_for / chart_of_job）：互为反函数；别的任务 id 不对应任何图表。"""
    for name in ("cpu", "demo-2", "a_b"):
        assert job_id_for(name) == f"redraw-{name}"
        assert chart_of_job(job_id_for(name)) == name
    assert [chart_of_job(job_id) for job_id in ("cpu", "redraw", "Redraw-cpu", "xredraw-cpu", None, 7)] == [None] * 6


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, config.DevelopmentConfig),
        ("development", config.DevelopmentConfig),
        ("testing", config.TestingConfig),
        ("production", config.ProductionConfig),
        ("config:TestingConfig", config.TestingConfig),
        ("tests.e2e_config:E2EConfig", None),
    ],
)
def test_resolve_config(name: str | None, expected: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVECHART_CONFIG", raising=False)
    resolved = resolve_config(name)
    # 配置模块从文件隔离地载入（livechart/configfile.py）：是同一个类的新副本，而不是 sys.modules 里的那个
    if expected is not None:
        assert (resolved.__module__, resolved.__qualname__) == (expected.__module__, expected.__qualname__)
        assert resolved.CHARTS == expected.CHARTS and resolved.JOBS == expected.JOBS
    else:
        assert resolved.__name__ == "E2EConfig"


def test_resolve_config_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVECHART_CONFIG", "testing")
    assert resolve_config().__qualname__ == "TestingConfig"


@pytest.mark.parametrize(
    ("name", "message"),
    [("staging", "LIVECHART_CONFIG='staging' 不认识"), ("nosuch.module:Config", "LIVECHART_CONFIG='nosuch.module:Config'")],
)
def test_resolve_config_bad_value(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(name)


def _without_job(name: str) -> dict[str, Any]:
    s = settings()
    s["JOBS"] = [j for j in s["JOBS"] if j["kwargs"]["chart"] != name]
    return s


def _job(chart: str, **changes: Any) -> dict[str, Any]:
    s = settings()
    for job in s["JOBS"]:
        if job["kwargs"]["chart"] == chart:
            job.update(changes)
    return s


def _chart(chart: str, **changes: Any) -> dict[str, Any]:
    s = settings()
    s["CHARTS"][chart].update(changes)
    return s


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_without_job("demo"), r"CHARTS\['demo'\]：没有任务；请在 JOBS 里加上一个"),
        (
            settings(JOBS=[*config.Config.JOBS, {**config.Config.JOBS[0], "id": "redraw-ghost", "kwargs": {"chart": "ghost"}}]),
            r"JOBS\['redraw-ghost'\]：任务 'redraw-ghost' 指向的图表 'ghost' 不存在",
        ),
        (_job("cpu", seconds=0), r"JOBS\['redraw-cpu'\]：间隔任务要给出 weeks、days、hours、minutes、seconds 中的至少一个"),
        (_job("cpu", seconds=-5), r"JOBS\['redraw-cpu'\]：间隔 -5 秒低于下限"),
        (_job("cpu", seconds=1.5), r"JOBS\['redraw-cpu'\]：间隔必须是整数秒，收到 1\.5 秒"),
        (_job("cpu", seconds="2"), r"JOBS\['redraw-cpu'\]：'seconds' 必须是数字"),
        (_job("cpu", func="os:system"), r"JOBS\['redraw-cpu'\]：'func' 必须是 'livechart.jobs:redraw'"),
        (_job("cpu", kwargs={"chart": "demo"}), r"JOBS\['redraw-cpu'\]：任务 'redraw-cpu' 的 'kwargs' 必须是"),
        (
            _job("cpu", trigger="cron"),
            r"JOBS\['redraw-cpu'\]：只支持间隔触发：'trigger' 必须是 \"interval\"",
        ),
        (_job("cpu", args=[1]), r"JOBS\['redraw-cpu'\]：不允许字段 'args'"),
        (
            settings(JOBS=[*config.Config.JOBS, {**config.Config.JOBS[0], "name": "again"}]),
            r"图表 'cpu' 已经有一个任务了",
        ),
        (_chart("cpu", windw=10), r"CHARTS\['cpu'\]：未知选项 'windw'"),
        (_chart("cpu", window=1), r"CHARTS\['cpu'\]：选项 'window' = 1 超出范围"),
        (_chart("cpu", size=[800]), r"CHARTS\['cpu'\]：选项 'size' 必须是"),
        (_chart("cpu", size=[50, 400]), r"CHARTS\['cpu'\]：选项 'size' = 50 超出范围"),
        (_chart("cpu", ylim=[100, 0]), r"CHARTS\['cpu'\]：选项 'ylim' 的下限必须小于上限"),
        (_chart("cpu", title=""), r"CHARTS\['cpu'\]：选项 'title' 必须是非空字符串"),
        (_chart("cpu", source={"type": "ftp"}), r"CHARTS\['cpu'\]：不认识的数据源类型 'ftp'（可用的类型：system, csv"),
        (
            _chart("cpu", source={"type": "system", "metrics": ["gpu"]}),
            r"CHARTS\['cpu'\]：不认识的本机指标 'gpu'（可用的指标：cpu, ",
        ),
        (_chart("cpu", series={"disk": "磁盘"}), r"数据源 'system' 不产生序列 'disk'"),
        (
            _chart("demo", source={"type": "demo", "seed": -1}),
            r"CHARTS\['demo'\]：数据源参数 'seed' 必须是 0 到 4294967295 之间的整数，收到 -1",
        ),
        (settings(CHARTS={}), r"CHARTS：至少要配置一个图表"),
        (settings(JOBS="redraw"), r"JOBS：必须是 Flask-APScheduler 任务字典的列表"),
        (settings(JOBS=["redraw-cpu"]), r"JOBS\['#0'\]：任务定义必须是字典（JSON 对象）"),
    ],
)
def test_bad_settings_fail_fast_naming_the_culprit(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(bad)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"LIVECHART_SCHEDULER": "sometimes"}, "LIVECHART_SCHEDULER 必须是 running、paused、off 之一，收到 'sometimes'"),
        ({"CACHE_TYPE": "NullCache"}, "CACHE_TYPE：NullCache 什么都不存"),
        ({"LIVECHART_PNG_COMPRESS_LEVEL": 12}, "LIVECHART_PNG_COMPRESS_LEVEL 必须是 0–9 之间的整数，收到 12"),
        (
            {"LIVECHART_API_USER": "admin", "LIVECHART_API_PASSWORD": None},
            "LIVECHART_API_USER 和 LIVECHART_API_PASSWORD 要么都设置，要么都不设置",
        ),
        ({"JOBS": []}, r"CHARTS\['cpu'\]：没有任务"),
        ({"LIVECHART_PORT": "http"}, "LIVECHART_PORT 必须是 1–65535 之间的端口号，收到 'http'"),
        ({"LIVECHART_PORT": 70000}, "LIVECHART_PORT 必须是 1–65535 之间的端口号，收到 70000"),
    ],
)
def test_create_app_fails_fast(make_app: Any, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_app("testing", **overrides)


def test_production_refuses_to_start_without_api_credentials(make_app: Any) -> None:
    with pytest.raises(ConfigError, match="LIVECHART_API_USER / LIVECHART_API_PASSWORD"):
        make_app("production", LIVECHART_API_USER=None, LIVECHART_API_PASSWORD=None, LIVECHART_SCHEDULER="off")


def test_production_starts_with_credentials(make_app: Any) -> None:
    app = make_app("production", LIVECHART_API_USER="ops", LIVECHART_API_PASSWORD="s3cret", LIVECHART_SCHEDULER="off")
    assert app.test_client().get("/plot.png").status_code == 200


def test_main_reports_config_errors_without_traceback(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from livechart.__main__ import main

    monkeypatch.setenv("LIVECHART_CONFIG", "staging")
    assert main() == 2
    err = capsys.readouterr().err
    assert "livechart：配置错误：LIVECHART_CONFIG='staging'" in err
    assert "Traceback" not in err


BAD_SETTINGS = [
    {"LIVECHART_SCHEDULER": "sometimes"},
    {"CACHE_TYPE": "NullCache"},
    {"LIVECHART_PNG_COMPRESS_LEVEL": 12},
    {"LIVECHART_PNG_COMPRESS_LEVEL": "9"},
    {"LIVECHART_FETCH_TIMEOUT": 0},
    {"LIVECHART_RENDER_TIMEOUT": "30"},
    {"LIVECHART_FUTURE_MARGIN": -1},
    {"LIVECHART_RECONCILE_SECONDS": 0},
    {"LIVECHART_IMAGE_CORP": "anyone"},
    {"LIVECHART_ROLE": "painter"},
    {"LIVECHART_RENDER_PROCESSES": 99},
    {"LIVECHART_PORT": "http"},
    {"LIVECHART_API_USER": "admin", "LIVECHART_API_PASSWORD": None},
    {"JOBS": []},
]


@pytest.mark.parametrize("bad", BAD_SETTINGS, ids=lambda bad: next(iter(bad)))
def test_create_app_and_the_gunicorn_master_reject_the_same_settings_the_same_way(make_app: Any, bad: dict[str, Any]) -> None:
    """一个校验器（livechart/settings.py）：以前 gunicorn 的主进程放过调度器模式、期限、PNG 压缩级别、CORP 等，
    工作进程启动时才一个个失败（或者消息不同）。"""
    from livechart.gunicorn_config import check_deployment

    with pytest.raises(ConfigError) as at_start:
        make_app("testing", **bad)
    testing = resolve_config("testing")
    with pytest.raises(ConfigError) as in_master:
        check_deployment(type("Bad", (testing,), dict(bad)), 1)
    assert str(in_master.value) == str(at_start.value)
