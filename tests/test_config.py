"""配置：选择配置类，启动时校验 CHARTS 与 JOBS 并给出指明出错位置的消息。"""

from __future__ import annotations

import copy
from typing import Any

import pytest

import config
from livechart import ConfigError
from livechart import resolve_config
from livechart.spec import parse_settings


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
    [("staging", "LIVECHART_CONFIG='staging': unknown"), ("nosuch.module:Config", "LIVECHART_CONFIG='nosuch.module:Config'")],
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
        (_without_job("demo"), r"CHARTS\['demo'\]: has no job"),
        (
            settings(JOBS=[*config.Config.JOBS, {**config.Config.JOBS[0], "id": "redraw-ghost", "kwargs": {"chart": "ghost"}}]),
            r"JOBS\['redraw-ghost'\]: job 'redraw-ghost' names unknown chart 'ghost'",
        ),
        (_job("cpu", seconds=0), r"JOBS\['redraw-cpu'\]: an interval job needs"),
        (_job("cpu", seconds=-5), r"JOBS\['redraw-cpu'\]: interval -5 s is below the minimum"),
        (_job("cpu", seconds=1.5), r"JOBS\['redraw-cpu'\]: interval 1.5 s must be a whole number"),
        (_job("cpu", seconds="2"), r"JOBS\['redraw-cpu'\]: 'seconds' must be a number"),
        (_job("cpu", func="os:system"), r"JOBS\['redraw-cpu'\]: 'func' must be 'livechart.jobs:redraw'"),
        (_job("cpu", kwargs={"chart": "demo"}), r"JOBS\['redraw-cpu'\]: 'kwargs' of job 'redraw-cpu' must be"),
        (
            _job("cpu", trigger="cron"),
            r"JOBS\['redraw-cpu'\]: only interval triggers are supported: 'trigger' must be \"interval\"",
        ),
        (_job("cpu", args=[1]), r"JOBS\['redraw-cpu'\]: field 'args' is not allowed"),
        (
            settings(JOBS=[*config.Config.JOBS, {**config.Config.JOBS[0], "name": "again"}]),
            r"chart 'cpu' already has a job",
        ),
        (_chart("cpu", windw=10), r"CHARTS\['cpu'\]: unknown option 'windw'"),
        (_chart("cpu", window=1), r"CHARTS\['cpu'\]: option 'window' = 1 is out of range"),
        (_chart("cpu", size=[800]), r"CHARTS\['cpu'\]: option 'size' must be"),
        (_chart("cpu", size=[50, 400]), r"CHARTS\['cpu'\]: option 'size' = 50 is out of range"),
        (_chart("cpu", ylim=[100, 0]), r"CHARTS\['cpu'\]: option 'ylim' needs low < high"),
        (_chart("cpu", title=""), r"CHARTS\['cpu'\]: option 'title' must be a non-empty string"),
        (_chart("cpu", source={"type": "ftp"}), r"CHARTS\['cpu'\]: 不认识的数据源类型 'ftp'"),
        (_chart("cpu", source={"type": "system", "metrics": ["gpu"]}), r"不认识的本机指标 'gpu'"),
        (_chart("cpu", series={"disk": "磁盘"}), r"series 'disk' is not produced by source 'system'"),
        (
            _chart("demo", source={"type": "demo", "seed": -1}),
            r"CHARTS\['demo'\]: 数据源参数 'seed' 必须是 0 到 4294967295 之间的整数，收到 -1",
        ),
        (settings(CHARTS={}), r"CHARTS: at least one chart"),
        (settings(JOBS="redraw"), r"JOBS: must be a list"),
    ],
)
def test_bad_settings_fail_fast_naming_the_culprit(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(bad)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"LIVECHART_SCHEDULER": "sometimes"}, "LIVECHART_SCHEDULER='sometimes'"),
        ({"CACHE_TYPE": "NullCache"}, "CACHE_TYPE: NullCache stores nothing"),
        ({"LIVECHART_PNG_COMPRESS_LEVEL": 12}, "LIVECHART_PNG_COMPRESS_LEVEL"),
        (
            {"LIVECHART_API_USER": "admin", "LIVECHART_API_PASSWORD": None},
            "LIVECHART_API_USER 和 LIVECHART_API_PASSWORD 要么都设置，要么都不设置",
        ),
        ({"JOBS": []}, r"CHARTS\['cpu'\]: has no job"),
        ({"LIVECHART_PORT": "http"}, "LIVECHART_PORT='http': must be a port number"),
        ({"LIVECHART_PORT": 70000}, "LIVECHART_PORT=70000"),
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
    assert "configuration error: LIVECHART_CONFIG='staging'" in err
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
