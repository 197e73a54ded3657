"""重新载入配置（livechart/reload.py）：在进程里直接调用 poll()，看它应用了什么、拒绝了什么。

真实服务进程（make run 与 make run-prod）里的监视线程、页面与几个工作进程见 tests/test_reload_server.py
与 tests/test_service.py。
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from livechart import ConfigError
from livechart import history
from livechart import jobs
from livechart import keys
from livechart import reload
from tests.conftest import wait_for

SMALL = [320, 160]


def chart(title: str, seed: int = 1, **extra: Any) -> dict[str, Any]:
    """一个画得很快的小图表。"""
    return {"title": title, "source": {"type": "demo", "seed": seed}, "size": SMALL, **extra}


def job(name: str, seconds: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"redraw-{name}", "func": "livechart.jobs:redraw", "kwargs": {"chart": name}, "trigger": "interval",
            "seconds": seconds, **extra}  # fmt: skip


def config_text(charts: dict[str, Any], intervals: dict[str, int], base: str = "TestingConfig", **settings: Any) -> str:
    """一个配置模块的内容：继承 config.py 的某个配置类，声明 CHARTS、JOBS 与别的设置。"""
    lines = [f"from config import {base}", "", "", f"class Config({base}):"]
    lines.append(f"    CHARTS = {charts!r}")
    lines.append(f"    JOBS = {[job(name, seconds) for name, seconds in intervals.items()]!r}")
    lines += [f"    {key} = {value!r}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


class ConfigModule:
    """临时目录里的一个配置模块（在 sys.path 上）。"""

    def __init__(self, folder: Path) -> None:
        self.name = f"reload_cfg_{uuid.uuid4().hex[:8]}"
        self.path = folder / f"{self.name}.py"

    @property
    def ref(self) -> str:
        return f"{self.name}:Config"

    def write(self, text: str) -> None:
        """写完整个文件；修改时间放到 0.3 秒前（监视线程只读写完超过 0.2 秒的文件），poll 立即就会载入。"""
        self.path.write_text(text)
        settled = time.time() - 0.3
        os.utime(self.path, (settled, settled))

    def save(self, charts: dict[str, Any], intervals: dict[str, int], **settings: Any) -> None:
        self.write(config_text(charts, intervals, **settings))


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConfigModule:
    found = ConfigModule(tmp_path)
    found.save({"a": chart("A"), "b": chart("B", 2)}, {"a": 1, "b": 2})
    monkeypatch.syspath_prepend(str(tmp_path))
    return found


def applied(app: Any) -> str | None:
    return reload.get(app).poll()


def job_seconds(client: Any, name: str) -> Any:
    response = client.get(f"/scheduler/jobs/redraw-{name}")
    return response.json["seconds"] if response.status_code == 200 else response.status_code


def reload_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "配置已重新载入" in r.getMessage()]


def test_a_saved_interval_is_applied_and_nothing_else_changes(make_app: Any, module: ConfigModule, caplog: Any) -> None:
    app = make_app(module.ref)
    client = app.test_client()
    before = {name: redrawer for name, redrawer in jobs.redrawers(app).items()}
    window = before["a"].window
    next_b = client.get("/scheduler/jobs/redraw-b").json["next_run_time"]
    version_a = client.get("/api/charts/a").json["version"]
    caplog.set_level(logging.INFO, logger="livechart")
    module.save({"a": chart("A"), "b": chart("B", 2)}, {"a": 5, "b": 2})
    assert applied(app) == "applied"
    assert job_seconds(client, "a") == 5
    assert client.get("/api/charts/a").json["interval"] == 5
    # 没改的：同一个重绘器（窗口、版本号），b 的任务原样
    assert jobs.redrawers(app)["a"] is before["a"] and jobs.redrawers(app)["b"] is before["b"]
    assert jobs.redrawers(app)["a"].window is window
    assert client.get("/api/charts/a").json["version"] == version_a
    assert client.get("/scheduler/jobs/redraw-b").json["next_run_time"] == next_b
    assert reload_lines(caplog) == [f"配置已重新载入（{module.path}）：图表 a 的间隔 1 → 5 秒"]
    # 没有再保存：什么也不做；只碰了一下（内容相同）：也什么都不做
    assert applied(app) is None
    module.path.touch()
    assert applied(app) is None
    assert len(reload_lines(caplog)) == 1
    assert client.get("/api/charts").json["config"]["file"] == str(module.path)


def test_charts_added_and_removed_in_the_file(make_app: Any, module: ConfigModule) -> None:
    app = make_app(module.ref)
    client = app.test_client()
    module.save({"a": chart("A"), "b": chart("B", 2), "c": chart("C", 3)}, {"a": 1, "b": 2, "c": 1})
    assert applied(app) == "applied"
    # 预热：不用等第一个节拍（测试的调度器是暂停的），也不用谁先请求一次
    wait_for(lambda: client.get("/api/charts/c").json["version"] >= 1, 10, "the new chart is warmed")
    assert client.get("/charts/c.png").status_code == 200
    assert [c["name"] for c in client.get("/api/charts").json["charts"]] == ["a", "b", "c"]
    assert job_seconds(client, "c") == 1
    assert 'livechart_renders_total{chart="c"} 1.0' in client.get("/metrics").text
    assert client.get("/openapi.json").json["paths"]

    module.save({"a": chart("A"), "b": chart("B", 2)}, {"a": 1, "b": 2})
    assert applied(app) == "applied"
    for path in ("/charts/c.png", "/api/charts/c", "/scheduler/jobs/redraw-c", "/api/charts/c/data"):
        response = client.get(path)
        assert response.status_code == 404 and response.is_json, path
    assert [c["name"] for c in client.get("/api/charts").json["charts"]] == ["a", "b"]
    assert 'chart="c"' not in client.get("/metrics").text
    with app.app_context():
        assert history.load("c") is None

    # 同名的图表再加回来：从头开始（版本 1）
    module.save({"a": chart("A"), "b": chart("B", 2), "c": chart("C again", 4)}, {"a": 1, "b": 2, "c": 3})
    assert applied(app) == "applied"
    wait_for(lambda: client.get("/api/charts/c").json["version"] >= 1, 10, "the chart is back")
    status = client.get("/api/charts/c").json
    assert status["version"] == 1 and status["title"] == "C again" and status["interval"] == 3


def test_removing_the_first_chart_moves_plot_png_to_the_next_one(make_app: Any, module: ConfigModule, caplog: Any) -> None:
    app = make_app(module.ref)
    client = app.test_client()
    caplog.set_level(logging.INFO, logger="livechart")
    module.save({"b": chart("B", 2), "a": chart("A")}, {"a": 1, "b": 2})
    assert applied(app) == "applied"
    assert reload_lines(caplog)[-1].endswith("：图表的顺序 b、a（/plot.png 是 b）")
    assert [c["name"] for c in client.get("/api/charts").json["charts"]] == ["b", "a"]
    assert client.get("/plot.png").data == client.get("/charts/b.png").data
    module.save({"b": chart("B", 2)}, {"b": 2})
    assert applied(app) == "applied"
    assert client.get("/plot.png").data == client.get("/charts/b.png").data


BROKEN = {
    "syntax": ("class Broken(:\n", "行："),
    "import": ("import livechart_no_such_module\n", "ModuleNotFoundError"),
    "option": (None, "CHARTS['a']：选项 'size'"),
    "no job": (None, "CHARTS['c']：没有任务"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_save_keeps_the_running_configuration_and_says_why(
    make_app: Any, module: ConfigModule, kind: str, caplog: Any
) -> None:
    good = module.path.read_text()
    app = make_app(module.ref)
    client = app.test_client()
    caplog.set_level(logging.INFO, logger="livechart")
    tail, expected = BROKEN[kind]
    if kind == "option":
        module.save({"a": chart("A", size=[1, 1]), "b": chart("B", 2)}, {"a": 5, "b": 2})
    elif kind == "no job":
        module.save({"a": chart("A"), "b": chart("B", 2), "c": chart("C")}, {"a": 5, "b": 2})
    else:
        module.write(good.replace("'seconds': 1", "'seconds': 5") + tail)
    assert applied(app) == "failed"
    # 与启动时一字不差
    with pytest.raises(ConfigError) as at_start:
        make_app(module.ref)
    error = client.get("/api/charts").json["config_error"]
    assert error["message"] == str(at_start.value) and expected in error["message"], error
    assert error["file"] == str(module.path)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"配置错误：{at_start.value}（仍按上一份有效的配置运行，改好并保存后自动载入）"]
    # 什么都没应用：间隔、图表照旧，照常重绘；页面显示错误
    assert job_seconds(client, "a") == 1
    assert [c["name"] for c in client.get("/api/charts").json["charts"]] == ["a", "b"]
    version = client.get("/api/charts/a").json["version"]
    assert client.post("/scheduler/jobs/redraw-a/run", json={}).status_code == 200
    assert client.get("/api/charts/a").json["version"] == version + 1
    page = client.get("/").text
    assert str(at_start.value).replace("'", "&#39;") in page and 'id="config-error" role="alert">' in page
    assert applied(app) is None  # 没有再保存：不再写日志
    # 改好了：应用，错误消失，日志说错误已改正
    module.write(good.replace("'seconds': 1", "'seconds': 5"))
    assert applied(app) == "applied"
    assert reload_lines(caplog)[-1] == f"配置已重新载入（{module.path}）：图表 a 的间隔 1 → 5 秒（之前的错误已改正）"
    assert client.get("/api/charts").json["config_error"] is None
    assert job_seconds(client, "a") == 5
    assert 'id="config-error" role="alert" hidden>' in client.get("/").text


def test_settings_that_need_a_restart_are_reported_not_ignored(make_app: Any, module: ConfigModule, caplog: Any) -> None:
    app = make_app(module.ref)
    client = app.test_client()
    caplog.set_level(logging.INFO, logger="livechart")
    charts, intervals = {"a": chart("A"), "b": chart("B", 2)}, {"a": 3, "b": 2}
    module.save(
        charts, intervals, LIVECHART_PNG_COMPRESS_LEVEL=6, LIVECHART_API_USER="ops", LIVECHART_API_PASSWORD="hunter2-secret"
    )
    assert applied(app) == "applied"
    assert job_seconds(client, "a") == 3  # 能应用的照样应用
    restart = client.get("/api/charts").json["config_restart_needed"]
    assert restart["settings"] == ["LIVECHART_API_PASSWORD", "LIVECHART_API_USER", "LIVECHART_PNG_COMPRESS_LEVEL"]
    assert restart["message"] == (
        f"{module.path} 里改了 LIVECHART_API_PASSWORD、LIVECHART_API_USER、LIVECHART_PNG_COMPRESS_LEVEL：要重启 livechart 才生效"
        "（gunicorn 下 kill -HUP 主进程即可）；正在运行的仍是启动时的值"
    )
    assert "hunter2" not in str(client.get("/api/charts").json)
    assert app.config["LIVECHART_PNG_COMPRESS_LEVEL"] == 1  # 运行中的仍是启动时的值
    warnings = [r.getMessage() for r in caplog.records if "要重启" in r.getMessage()]
    assert len(warnings) == 1 and "hunter2" not in warnings[0]
    module.save(charts, intervals)
    assert applied(app) == "applied"
    assert client.get("/api/charts").json["config_restart_needed"] is None


def test_the_file_wins_only_for_the_jobs_it_changes(make_app: Any, module: ConfigModule, caplog: Any) -> None:
    """优先规则：文件改了某个任务，就覆盖之前运行时对它的修改；运行时在保存之后的修改一直有效，直到文件再改这个任务。"""
    app = make_app(module.ref)
    client = app.test_client()
    charts = {"a": chart("A"), "b": chart("B", 2)}
    assert client.patch("/scheduler/jobs/redraw-a", json={"seconds": 7}).status_code == 200
    assert client.post("/scheduler/jobs/redraw-a/pause", json={}).status_code == 200
    module.save(charts, {"a": 1, "b": 4})  # 只改了 b
    assert applied(app) == "applied"
    assert (job_seconds(client, "a"), job_seconds(client, "b")) == (7, 4)
    caplog.set_level(logging.WARNING, logger="livechart")
    module.save(charts, {"a": 3, "b": 4})  # 改了 a：以文件为准，暂停保留
    assert applied(app) == "applied"
    assert job_seconds(client, "a") == 3
    overridden = [r.getMessage() for r in caplog.records if "以配置文件为准" in r.getMessage()]
    assert overridden == ["配置文件改过图表 a 的任务：以配置文件为准，作废运行时的修改 {'seconds': 7.0}"]
    assert client.get("/api/charts/a").json["reason"]["code"] == "job_paused"
    assert client.patch("/scheduler/jobs/redraw-a", json={"seconds": 9}).status_code == 200
    module.save(charts, {"a": 3, "b": 5})
    assert applied(app) == "applied"
    assert (job_seconds(client, "a"), job_seconds(client, "b")) == (9, 5)
    # 运行时删掉的任务，文件改了它就回来
    assert client.delete("/scheduler/jobs/redraw-b", json={}).status_code == 204
    module.save(charts, {"a": 3, "b": 6})
    assert applied(app) == "applied"
    assert job_seconds(client, "b") == 6


def test_a_changed_spec_gets_a_new_renderer_and_keeps_the_window_while_the_source_is_the_same(
    make_app: Any, module: ConfigModule
) -> None:
    app = make_app(module.ref)
    client = app.test_client()
    for _ in range(3):
        assert client.post("/scheduler/jobs/redraw-a/run", json={}).status_code == 200
    old = jobs.redrawers(app)["a"]
    last, renders = old.window.index[-1], old.renders
    module.save({"a": chart("A, retitled", size=[400, 200]), "b": chart("B", 2)}, {"a": 1, "b": 2})
    assert applied(app) == "applied"
    new = jobs.redrawers(app)["a"]
    assert new is not old and new.renderer is not old.renderer and new.source is old.source and new.lock is old.lock
    # 立即用新的规格重绘（不等下一个节拍），窗口接着用
    wait_for(lambda: client.get("/api/charts/a").json["width"] == 400 and new.renders > renders, 10, "redrawn with the new spec")
    assert new.window.index[-2] == last
    assert client.get("/api/charts/a").json["title"] == "A, retitled"
    # 换了数据源：窗口从头开始
    module.save({"a": chart("A, retitled", seed=9, size=[400, 200]), "b": chart("B", 2)}, {"a": 1, "b": 2})
    assert applied(app) == "applied"
    newer = jobs.redrawers(app)["a"]
    assert newer.source is not new.source
    wait_for(lambda: newer.window is not None, 10, "redrawn with the new source")
    assert last not in newer.window.index and new.window.index[-1] not in newer.window.index


def test_start_up_reads_the_file_not_a_module_already_imported(module: ConfigModule, make_app: Any) -> None:
    """以前：gunicorn 的主进程导入过配置模块，kill -HUP 之后新的工作进程拿到的是 sys.modules 里的旧模块。"""
    importlib.import_module(module.name)
    try:
        module.save({"a": chart("A"), "b": chart("B", 2)}, {"a": 4, "b": 2})
        app = make_app(module.ref)
        assert job_seconds(app.test_client(), "a") == 4
    finally:
        sys.modules.pop(module.name, None)


def test_a_syntax_error_at_start_names_the_file_and_line(module: ConfigModule, make_app: Any) -> None:
    """以前：config.py 的语法错误在启动时是一大段堆栈。"""
    module.write(module.path.read_text() + "\n\nJOBS = [\n")
    with pytest.raises(ConfigError, match=rf"^{module.path} 第 9 行：'\[' was never closed（SyntaxError）$"):
        make_app(module.ref)


@pytest.fixture
def redis_settings(redis_url: str) -> dict[str, Any]:
    return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url, "CACHE_KEY_PREFIX": f"reload-{uuid.uuid4().hex[:6]}:"}


def test_with_redis_a_removed_chart_leaves_no_key_and_comes_back_fresh(
    make_app: Any, module: ConfigModule, redis_settings: dict[str, Any], redis_url: str
) -> None:
    module.save({"a": chart("A"), "b": chart("B", 2), "c": chart("C", 3)}, {"a": 1, "b": 2, "c": 1})
    app = make_app(module.ref, **redis_settings)
    client = app.test_client()
    prefix = redis_settings["CACHE_KEY_PREFIX"]
    wait_for(lambda: client.get("/api/charts/c").json["version"] >= 1, 10, "c warmed")
    assert client.patch("/scheduler/jobs/redraw-c", json={"seconds": 5}).status_code == 200
    plain = redis.Redis.from_url(redis_url)
    assert plain.keys(f"{prefix}*{{c}}*")
    module.save({"a": chart("A"), "b": chart("B", 2)}, {"a": 1, "b": 2})
    assert applied(app) == "applied"
    assert plain.keys(f"{prefix}*{{c}}*") == []
    assert plain.keys(f"{prefix}*{{a}}*")
    module.save({"a": chart("A"), "b": chart("B", 2), "c": chart("C", 3)}, {"a": 1, "b": 2, "c": 1})
    assert applied(app) == "applied"
    wait_for(lambda: client.get("/api/charts/c").json["version"] >= 1, 10, "c is back")
    assert client.get("/api/charts/c").json["version"] == 1
    assert job_seconds(client, "c") == 1  # 运行时的修改随图表一起删掉了


def test_with_redis_the_file_overrides_a_runtime_change_of_the_same_job_once(
    make_app: Any, module: ConfigModule, redis_settings: dict[str, Any], redis_url: str, caplog: Any
) -> None:
    app = make_app(module.ref, **redis_settings)
    client = app.test_client()
    charts = {"a": chart("A"), "b": chart("B", 2)}
    assert client.patch("/scheduler/jobs/redraw-a", json={"seconds": 7}).status_code == 200
    module.save(charts, {"a": 1, "b": 4})
    assert applied(app) == "applied"
    assert (job_seconds(client, "a"), job_seconds(client, "b")) == (7, 4)
    caplog.set_level(logging.WARNING, logger="livechart")
    module.save(charts, {"a": 3, "b": 4})
    assert applied(app) == "applied"
    assert job_seconds(client, "a") == 3
    plain = redis.Redis.from_url(redis_url)
    record = plain.hgetall(redis_settings["CACHE_KEY_PREFIX"] + keys.job("a"))
    assert b"seconds" not in record
    assert sum("以配置文件为准" in r.getMessage() for r in caplog.records) == 1


def test_with_redis_a_runtime_option_change_does_not_stop_the_next_start(
    make_app: Any, module: ConfigModule, redis_settings: dict[str, Any]
) -> None:
    """以前：运行时改过 misfire_grace_time 之后重启，应用期望状态时读待定任务没有的属性，进程起不来（AttributeError）。"""
    first = make_app(module.ref, **redis_settings)
    patched = first.test_client().patch("/scheduler/jobs/redraw-a", json={"misfire_grace_time": 9, "coalesce": False})
    assert patched.status_code == 200
    from tests.conftest import shutdown_scheduler

    shutdown_scheduler()
    second = make_app(module.ref, **redis_settings)
    job = second.test_client().get("/scheduler/jobs/redraw-a").json
    assert (job["misfire_grace_time"], job["seconds"]) == (9, 1)


def test_render_processes_draw_added_and_changed_charts_with_the_new_specs(make_app: Any, module: ConfigModule) -> None:
    app = make_app(module.ref, LIVECHART_RENDER_PROCESSES=1)
    client = app.test_client()
    module.save({"a": chart("A", size=[400, 200]), "b": chart("B", 2), "c": chart("C", 3)}, {"a": 1, "b": 2, "c": 1})
    assert applied(app) == "applied"
    wait_for(lambda: client.get("/api/charts/c").json["version"] >= 1, 15, "c drawn in the render process")
    wait_for(lambda: client.get("/api/charts/a").json["version"] >= 2, 15, "a redrawn in the render process")
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(client.get("/charts/a.png").data)).size == (400, 200)
    assert Image.open(io.BytesIO(client.get("/charts/c.png").data)).size == (320, 160)


def test_a_broken_save_never_shows_a_source_secret_in_public_status(make_app: Any, module: ConfigModule) -> None:
    """载入失败的消息会引用新文件里的参数（这里是一个带密码的错误 URL）：公开的 config_error 抹掉机密，日志里才有原文。"""
    app = make_app(module.ref)
    client = app.test_client()
    source = {
        "type": "sql",
        "url": "postgresql://app:hunter2secret@db:port/x",
        "query": "select 1",
        "columns": ["v"],
        "time": "t",
    }
    module.save({"a": chart("A"), "b": chart("B", 2), "db": {"title": "db", "source": source}}, {"a": 1, "b": 2, "db": 5})
    assert applied(app) == "failed"
    error = client.get("/api/charts").json["config_error"]
    assert "数据源参数 'url' 不是 SQLAlchemy URL" in error["message"], error
    for secret in ("hunter2secret", "app:", "@db"):
        assert secret not in error["message"] and secret not in client.get("/").text


def test_a_chart_removed_while_it_is_being_redrawn_stays_removed(make_app: Any, module: ConfigModule) -> None:
    """删掉时正在重绘（这里是一个卡住的 /run）：那次重绘结束后不再写回图片、版本与窗口，/run 回答 404 而不是 500，
    同名的图表再加回来从版本 1 开始。"""
    from tests import slow_source

    slow = {"title": "slow", "source": {"type": "python", "callable": "tests.slow_source:fetch", "columns": ["v"]}, "size": SMALL}
    module.save({"a": chart("A"), "slow": slow}, {"a": 1, "slow": 5})
    slow_source.RELEASE.set()
    app = make_app(module.ref, LIVECHART_WARM_CACHE=False)
    client = app.test_client()
    slow_source.RELEASE.clear()
    slow_source.ENTERED.clear()
    answers: list[Any] = []
    runner = threading.Thread(target=lambda: answers.append(client.post("/scheduler/jobs/redraw-slow/run", json={})))
    runner.start()
    assert slow_source.ENTERED.wait(10)
    module.save({"a": chart("A")}, {"a": 1})
    assert applied(app) == "applied"  # 等了 2 秒它的重绘，没等到：照样删掉
    slow_source.RELEASE.set()
    runner.join(10)
    assert answers[0].status_code == 404 and answers[0].json["error"] == "not_found", answers[0].data
    with app.app_context():
        assert history.load("slow") is None
    assert 'chart="slow"' not in client.get("/metrics").text
    module.save({"a": chart("A"), "slow": slow}, {"a": 1, "slow": 5})
    assert applied(app) == "applied"
    assert client.post("/scheduler/jobs/redraw-slow/run", json={}).json["run"]["version"] == 1


def test_a_half_written_file_is_not_read_until_it_settles(make_app: Any, module: ConfigModule, caplog: Any) -> None:
    """先截断再写的编辑器：刚写的文件（不到 0.2 秒）先不读，读到的总是写完的文件，不会报一个假的错误。"""
    app = make_app(module.ref)
    good = config_text({"a": chart("A"), "b": chart("B", 2)}, {"a": 4, "b": 2})
    module.path.write_text(good[: len(good) // 2])
    assert applied(app) is None
    module.path.write_text(good)
    assert applied(app) is None
    wait_for(lambda: applied(app) == "applied", 3, "the settled file is loaded")
    assert job_seconds(app.test_client(), "a") == 4
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_symlinked_config_follows_the_link_when_it_is_swapped(make_app: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """Kubernetes 的 ConfigMap：配置文件是指向 ..data/ 的符号链接，更新时换掉 ..data 这个链接。"""
    name = f"reload_link_{uuid.uuid4().hex[:8]}"
    first, second = tmp_path / "v1", tmp_path / "v2"
    first.mkdir()
    second.mkdir()
    (first / f"{name}.py").write_text(config_text({"a": chart("A")}, {"a": 1}))
    (second / f"{name}.py").write_text(config_text({"a": chart("A")}, {"a": 6}))
    visible = tmp_path / "mounted"
    visible.mkdir()
    (visible / "..data").symlink_to(first)
    (visible / f"{name}.py").symlink_to(Path("..data") / f"{name}.py")
    monkeypatch.syspath_prepend(str(visible))
    app = make_app(f"{name}:Config")
    (visible / "..data_tmp").symlink_to(second)
    os.replace(visible / "..data_tmp", visible / "..data")
    old = time.time() - 1
    os.utime(second / f"{name}.py", (old, old))
    assert applied(app) == "applied"
    assert job_seconds(app.test_client(), "a") == 6


def test_objects_in_settings_are_compared_by_value_not_reported_as_needing_a_restart(make_app: Any, module: ConfigModule) -> None:
    """每次载入都会新建配置里的对象（如 SCHEDULER_JOBSTORES 里的任务存储）：没改就不报“需要重启”。"""
    header = "from apscheduler.jobstores.memory import MemoryJobStore\n"
    charts, intervals = {"a": chart("A"), "b": chart("B", 2)}, {"a": 1, "b": 2}
    module.write(header + config_text(charts, intervals) + "    SCHEDULER_JOBSTORES = {'default': MemoryJobStore()}\n")
    app = make_app(module.ref)
    module.write(header + config_text(charts, {"a": 3, "b": 2}) + "    SCHEDULER_JOBSTORES = {'default': MemoryJobStore()}\n")
    assert applied(app) == "applied"
    assert app.test_client().get("/api/charts").json["config_restart_needed"] is None
    module.write(
        header
        + config_text(charts, {"a": 3, "b": 2})
        + "    SCHEDULER_JOBSTORES = {'default': MemoryJobStore(), 'spare': MemoryJobStore()}\n"
    )
    assert applied(app) == "applied"
    assert app.test_client().get("/api/charts").json["config_restart_needed"]["settings"] == ["SCHEDULER_JOBSTORES"]


def test_with_redis_removing_a_chart_leaves_keys_of_another_prefix_alone(
    make_app: Any, module: ConfigModule, redis_url: str
) -> None:
    """CACHE_KEY_PREFIX 里的 * 在 SCAN 的模式里按原样匹配：删掉图表时不会删掉别的前缀下的键。"""
    tag = uuid.uuid4().hex[:6]
    plain = redis.Redis.from_url(redis_url)
    other = f"{tag}-other:" + keys.tick("b", 2.0, 1)
    plain.set(other, 1)
    module.save({"a": chart("A"), "b": chart("B", 2)}, {"a": 1, "b": 2})
    app = make_app(module.ref, CACHE_TYPE="RedisCache", CACHE_REDIS_URL=redis_url, CACHE_KEY_PREFIX=f"{tag}*:")
    module.save({"a": chart("A")}, {"a": 1})
    assert applied(app) == "applied"
    assert plain.exists(other)


def test_a_missing_file_is_reported_and_its_return_is_applied(make_app: Any, module: ConfigModule) -> None:
    app = make_app(module.ref)
    client = app.test_client()
    text = module.path.read_text()
    module.path.unlink()
    assert applied(app) is None  # 编辑器先删再写：先等一个周期
    assert applied(app) == "failed"
    assert client.get("/api/charts").json["config_error"]["message"].endswith("：读不到（No such file or directory）")
    assert applied(app) is None  # 只报告一次
    assert job_seconds(client, "a") == 1
    module.write(text.replace("'seconds': 1", "'seconds': 2"))
    assert applied(app) == "applied"
    assert client.get("/api/charts").json["config_error"] is None and job_seconds(client, "a") == 2


def test_a_worker_falls_back_to_the_last_valid_content_for_any_kind_of_error(module: ConfigModule) -> None:
    """gunicorn 的工作进程（create_app(fallback=True)）：文件载入不了或校验不过时，退回主进程记下的上一份有效内容。"""
    from livechart import configfile
    from livechart import load_config

    _, ref, loaded, _ = load_config(module.ref)
    configfile.remember(ref, loaded)
    module.save({"a": chart("A", dpi=5), "b": chart("B", 2)}, {"a": 4, "b": 2})  # 载入得了，校验不过
    assert load_config(module.ref)[0].JOBS[0]["seconds"] == 4  # 不退回时照常载入（校验在 create_app 里失败）
    fallen, _, _, problem = load_config(module.ref, fallback=True)
    assert problem is not None and "CHARTS['a']：选项 'dpi' = 5 超出范围" in problem
    assert fallen.JOBS[0]["seconds"] == 1
    module.write("class Config(:\n")
    fallen, _, _, problem = load_config(module.ref, fallback=True)
    assert problem is not None and problem.endswith("（SyntaxError）") and fallen.JOBS[0]["seconds"] == 1


def test_a_draw_chart_is_added_changed_and_broken_live(make_app: Any, module: ConfigModule) -> None:
    """draw 的图表：新增、改 kwargs（换新的绘制器、立即重画）、换成导入不了的函数（不应用，报告错误）。"""
    app = make_app(module.ref)
    client = app.test_client()
    inspect = {"title": "mine", "size": SMALL, "draw": {"function": "tests.draw_functions:inspect", "kwargs": {"label": "一"}}}
    module.save({"a": chart("A"), "b": chart("B", 2), "mine": inspect}, {"a": 1, "b": 2, "mine": 1})
    assert applied(app) == "applied"
    wait_for(lambda: client.get("/api/charts/mine").json["version"] >= 1, 10, "the added draw chart was not drawn")
    first = client.get("/charts/mine.png").data
    changed = {**inspect, "draw": {"function": "tests.draw_functions:inspect", "kwargs": {"label": "二"}}}
    module.save({"a": chart("A"), "b": chart("B", 2), "mine": changed}, {"a": 1, "b": 2, "mine": 1})
    assert applied(app) == "applied"
    wait_for(lambda: client.get("/api/charts/mine").json["version"] >= 2, 10, "the changed draw chart was not redrawn")
    assert client.get("/charts/mine.png").data != first
    broken = {**inspect, "draw": "tests.draw_functions:nowhere"}
    module.save({"a": chart("A"), "b": chart("B", 2), "mine": broken}, {"a": 1, "b": 2, "mine": 1})
    assert applied(app) == "failed"
    error = client.get("/api/charts").json["config_error"]["message"]
    assert "CHARTS['mine']：选项 'draw'：无法导入 'tests.draw_functions:nowhere'" in error


DRAW_MODULE = """from config import TestingConfig


def paint(fig, data):
    fig.add_subplot().set_title({title!r})
{extra}

class Config(TestingConfig):
    CHARTS = {charts!r}
    JOBS = {jobs!r}
"""


def test_saving_the_module_with_the_draw_functions_applies_the_new_code(make_app: Any, module: ConfigModule) -> None:
    """README 的写法：绘图函数与配置在同一个文件里。改函数的代码、加一个新函数和图表，保存后都生效
    （以前：改了的函数照旧运行，新函数报“导入不了”，只有重启才行）；改坏了报告错误、照旧运行，改好又生效。"""

    def save(title: str, extra: str = "", more: dict[str, Any] | None = None) -> None:
        charts = {"mine": {"title": "mine", "size": SMALL, "draw": f"{module.name}:paint"}, **(more or {})}
        module.write(DRAW_MODULE.format(title=title, extra=extra, charts=charts, jobs=[job(name, 1) for name in charts]))

    save("one")
    app = make_app(module.ref)
    client = app.test_client()
    first = client.get("/charts/mine.png").data
    save("two")
    assert applied(app) == "applied"
    wait_for(lambda: client.get("/charts/mine.png").data != first, 10, "the new code was not used")
    pie = "\ndef pie(fig, data):\n    fig.add_subplot().pie([1, 2])\n"
    save("two", pie, {"pie": {"title": "pie", "size": SMALL, "draw": f"{module.name}:pie"}})
    assert applied(app) == "applied"
    wait_for(lambda: client.get("/api/charts/pie").status_code == 200 and client.get("/charts/pie.png").status_code == 200,
             10, "the added function was not drawn")  # fmt: skip
    module.write(module.path.read_text().replace("def pie(fig, data):", "def pie(fig, data)"))
    assert applied(app) == "failed"
    assert "SyntaxError" in client.get("/api/charts").json["config_error"]["message"]
    save("three", pie, {"pie": {"title": "pie", "size": SMALL, "draw": f"{module.name}:pie"}})
    assert applied(app) == "applied" and client.get("/api/charts").json["config_error"] is None


def test_saving_a_separate_draw_module_applies_it_without_touching_the_configuration(
    make_app: Any, module: ConfigModule, tmp_path: Path
) -> None:
    """绘图函数在另一个模块里：监视线程也看着它，保存它就用上新代码；改坏了报告、照旧运行。"""
    draws = ConfigModule(tmp_path)  # 只是借它写文件、放到 0.3 秒前
    draws.write("def paint(fig, data):\n    fig.add_subplot().set_title('one')\n")
    module.save({"mine": {"title": "mine", "size": SMALL, "draw": f"{draws.name}:paint"}}, {"mine": 1})
    app = make_app(module.ref)
    client = app.test_client()
    first = client.get("/charts/mine.png").data
    assert applied(app) is None
    draws.write("def paint(fig, data):\n    fig.add_subplot().set_title('two')\n")
    assert applied(app) == "applied"
    wait_for(lambda: client.get("/charts/mine.png").data != first, 10, "the new code was not used")
    draws.write("def paint(fig, data)\n")
    assert applied(app) == "failed"
    message = client.get("/api/charts").json["config_error"]["message"]
    assert f"选项 'draw'：重新载入 '{draws.name}'（" in message and "SyntaxError" in message
    assert applied(app) is None  # 没再改：不会每次 poll 都再试、再记一条错误
