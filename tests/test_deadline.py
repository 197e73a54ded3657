"""卡住的数据源：取数有总期限，任务线程不被卡住，/run 回答发生了什么，SIGTERM 后进程一定退出。"""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path

import pytest
import requests

from livechart import deadline
from livechart.deadline import Deadline
from livechart.deadline import FetchTimeout
from livechart.deadline import StillRunning
from livechart.deadline import Stopping
from livechart.durations import spoken
from tests.conftest import start_server
from tests.conftest import wait_for


@pytest.fixture(autouse=True)
def fresh_stop_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """STOPPING 是整个进程的：测试用自己的一个，不影响别的测试。"""
    monkeypatch.setattr(deadline, "STOPPING", threading.Event())


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 秒"),
        (0.44, "0.4 秒"),
        (45, "45 秒"),
        (59.6, "59.6 秒"),
        (59.96, "1 分钟"),
        (90, "1 分钟 30 秒"),
        (300, "5 分钟"),
        (7800, "2 小时 10 分钟"),
        (86399, "1 天"),
        (200_000, "2 天 8 小时"),
    ],
)
def test_durations_for_people_use_the_two_largest_units(seconds: float, text: str) -> None:
    """日志与状态里的时长：“5 分钟”而不是“300 秒”；进位到更大的单位时不写“24 小时”。"""
    assert spoken(seconds) == text


def test_a_call_past_its_deadline_times_out_and_its_late_result_is_kept() -> None:
    release = threading.Event()
    calls = []

    def slow() -> str:
        calls.append(1)
        release.wait(10)
        return "late rows"

    fetcher: Deadline[str] = Deadline("x")
    with pytest.raises(FetchTimeout, match=r"^超过 0\.2 秒仍未返回$"):
        fetcher.call(slow, 0.2)
    # 还卡着：不再开始新的调用，立即报告它卡了多久
    with pytest.raises(FetchTimeout, match=r"^超过 0\.2 秒仍未返回（上一次调用已卡住 [\d.]+ 秒，不再开始新的调用）$"):
        fetcher.call(slow, 0.2)
    assert len(calls) == 1
    release.set()
    wait_for(lambda: fetcher.pending is not None and fetcher.pending.done(), 5, "the late call returns")
    assert fetcher.call(slow, 0.2) == "late rows"  # 迟到的结果交给下一次
    assert fetcher.call(lambda: "fresh", 10) == "fresh"


def test_a_late_exception_of_an_abandoned_call_is_dropped() -> None:
    """超时之后才抛出的异常不再报告：下一次重新取数（状态不在“超时”和那个异常之间来回跳）。"""
    release = threading.Event()

    def fails_late() -> str:
        release.wait(10)
        raise ConnectionError("gave up late")

    fetcher: Deadline[str] = Deadline("x")
    with pytest.raises(FetchTimeout):
        fetcher.call(fails_late, 0.2)
    release.set()
    wait_for(lambda: fetcher.pending is not None and fetcher.pending.done(), 5, "the late call fails")
    assert fetcher.call(lambda: "fresh", 10) == "fresh"


def test_patience_returns_before_the_deadline_without_a_failure() -> None:
    release = threading.Event()
    fetcher: Deadline[str] = Deadline("x")
    with pytest.raises(StillRunning):
        fetcher.call(lambda: release.wait(10) and "done", 5, patience=0.1)
    release.set()
    wait_for(lambda: fetcher.pending is not None and fetcher.pending.done(), 5, "the call returns")
    assert fetcher.call(lambda: "unused", 5, patience=0.1) == "done"


def test_stopping_wakes_every_waiting_thread() -> None:
    fetcher: Deadline[None] = Deadline("x")
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            fetcher.call(lambda: threading.Event().wait(), 60)
        except BaseException as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    wait_for(lambda: fetcher.pending is not None, 5, "the call starts")
    deadline.stop_waiting()
    waiter.join(5)
    assert not waiter.is_alive()
    assert isinstance(outcome[0], Stopping)


def hung(server: object) -> dict:
    return server.get("/api/charts/hung").json()  # type: ignore[attr-defined]


@pytest.mark.e2e
def test_a_hung_source_is_reported_and_sigterm_still_ends_the_process(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"LIVECHART_CONFIG": "tests.e2e_config:HungE2EConfig"})
    try:
        wait_for(
            lambda: (
                (hung(server)["last_error"] or {}).get("message", "").startswith("数据源 python：FetchTimeout: 超过 2 秒仍未返回")
            ),
            15,
            "timeout",
        )
        # 其他图表照常重绘
        version = server.version("demo")
        wait_for(lambda: server.version("demo") > version + 1, 10, "demo keeps rendering")
        # /run 不会等上 30 秒：期限一到就回答
        answer = requests.post(server.url + "/scheduler/jobs/redraw-hung/run", json={}, timeout=15)
        assert answer.status_code < 500, answer.text
        log = server.log.read_text()
        # 卡住的图表的任务线程不跨过下一个节拍（别的图表在机器很忙时可能偶尔跳过一个节拍，与此无关）
        assert not re.search(r'job "redraw-hung .*maximum number of running instances', log), log
        assert log.count("Traceback") <= 1, log
    finally:
        server.process.send_signal(signal.SIGTERM)
        try:
            code = server.process.wait(5)
        except Exception:
            server.process.kill()
            server.process.wait(5)
            raise AssertionError("python -m livechart was still alive 5 s after SIGTERM") from None
    assert code == 0, server.log.read_text()
