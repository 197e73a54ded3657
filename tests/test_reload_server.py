"""重新载入配置，在真实的服务进程（python -m livechart，即 make run）与 Chromium 里的页面上：
保存一个临时的配置模块，看 /scheduler 与页面在 3 秒内跟上；加图表、删图表；存一个语法错误再改好。"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.conftest import Server
from tests.conftest import start_server
from tests.conftest import wait_for
from tests.test_page import browser  # noqa: F401  模块级的 Chromium
from tests.test_page import open_page
from tests.test_page import until
from tests.test_reload import chart
from tests.test_reload import config_text

pytestmark = [pytest.mark.e2e]

MODULE = "live_config"


class Running:
    """服务进程与它的配置模块。"""

    def __init__(self, server: Server, path: Path) -> None:
        self.server = server
        self.path = path

    def save(self, charts: dict[str, Any], intervals: dict[str, int]) -> float:
        """保存新的配置，返回保存的时刻（monotonic）。"""
        self.path.write_text(config_text(charts, intervals, base="DevelopmentConfig"))
        return time.monotonic()

    def status(self) -> dict[str, Any]:
        return self.server.get("/api/charts").json()


CHARTS = {"a": chart("A"), "b": chart("B", 2)}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("reload-server")
    modules = folder / "modules"
    modules.mkdir()
    path = modules / f"{MODULE}.py"
    path.write_text(config_text(CHARTS, {"a": 1, "b": 1}, base="DevelopmentConfig"))
    server = start_server(folder, env={"LIVECHART_CONFIG": f"{MODULE}:Config", "PYTHONPATH": f"{ROOT}:{modules}"})
    yield Running(server, path)
    server.stop()


@pytest.fixture(scope="module")
def page(browser: Any, running: Running) -> Iterator[Any]:  # noqa: F811
    tab = open_page(browser, running.server)
    until(tab, "document.querySelectorAll('main .chart').length === 2", 10)
    yield tab
    tab.context.close()


def test_a_saved_interval_reaches_the_scheduler_api_and_the_page_within_three_seconds(running: Running, page: Any) -> None:
    saved = running.save(CHARTS, {"a": 3, "b": 1})
    wait_for(lambda: running.server.get("/scheduler/jobs/redraw-a").json()["seconds"] == 3, 3, "/scheduler follows")
    until(page, "document.querySelector('#chart-a .period').textContent === '每 3 秒刷新'", 3 - (time.monotonic() - saved))
    assert page.evaluate("document.querySelector('#chart-a select.interval').value") == "3"
    assert "图表 a 的间隔 1 → 3 秒" in running.server.log.read_text()


def test_a_chart_added_in_the_file_appears_on_the_page_and_goes_away_when_removed(running: Running, page: Any) -> None:
    running.save({**CHARTS, "c": chart("C, added", 3)}, {"a": 3, "b": 1, "c": 1})
    until(page, "(() => { const img = document.querySelector('#chart-c img.plot');"
                " return img && img.complete && img.naturalWidth === 320; })()", 8)  # fmt: skip
    assert page.evaluate("[...document.querySelectorAll('main .chart')].map((el) => el.dataset.name)") == ["a", "b", "c"]
    assert page.inner_text("#chart-c h2") == "C, added"
    assert running.server.get("/charts/c.png").status_code == 200
    running.save(CHARTS, {"a": 3, "b": 1})
    until(page, "document.querySelector('#chart-c') === null", 4)
    assert running.server.get("/charts/c.png").status_code == 404
    # 删掉之后、页面下一次读状态之前，它的刷新定时器可能还请求过一次图片（404）：除此之外没有错误
    assert set(page.console_errors) <= {"Failed to load resource: the server responded with a status of 404 (NOT FOUND)"}


def test_a_syntax_error_is_shown_while_the_old_configuration_keeps_rendering(running: Running, page: Any, tmp_path: Path) -> None:
    good = running.path.read_text()
    running.path.write_text(good.replace("'seconds': 3", "'seconds': 2") + "def broken(:\n")
    wait_for(lambda: running.status()["config_error"], 3, "config_error in /api/charts")
    until(page, "!document.getElementById('config-error').hidden", 4)
    message = running.status()["config_error"]["message"]
    assert message.endswith("（SyntaxError）") and f"{MODULE}.py 第 " in message
    assert page.inner_text("#config-error .message") == message
    page.screenshot(path=str(tmp_path / "config-error.png"))
    version = running.status()["charts"][1]["version"]  # b：每秒重绘
    wait_for(lambda: running.status()["charts"][1]["version"] >= version + 2, 10, "the old configuration keeps rendering")
    assert running.server.get("/scheduler/jobs/redraw-a").json()["seconds"] == 3
    running.path.write_text(good.replace("'seconds': 3", "'seconds': 2"))
    wait_for(lambda: running.server.get("/scheduler/jobs/redraw-a").json()["seconds"] == 2, 3, "the fixed file is applied")
    assert running.status()["config_error"] is None
    until(page, "document.getElementById('config-error').hidden", 4)
    assert running.server.log.read_text().count("配置错误：") == 1
