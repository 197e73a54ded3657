"""渲染进程池：在别的进程里画出同样的图，图表固定分配，进程死掉后自行恢复。"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from livechart import ConfigError
from livechart import create_app
from livechart import jobs
from livechart import store
from livechart.fonts import configure_fonts
from livechart.pool import RenderPool
from livechart.pool import RenderProcessDied
from livechart.renderer import Renderer
from livechart.sources import DemoSource
from livechart.spec import parse_chart
from tests.conftest import wait_for

SPECS = {
    name: parse_chart(name, {"title": f"图表 {name}", "source": {"type": "demo", "seed": index}, "window": 120})
    for index, name in enumerate(("a", "b", "c"))
}


@pytest.fixture
def pool() -> Any:
    render_pool = RenderPool(SPECS, 2, 1, [])
    render_pool.start(60)
    yield render_pool
    render_pool.shutdown()


def _frame(seed: int = 3) -> Any:
    return DemoSource(seed=seed).backfill(119, 1)


def test_the_pool_draws_the_same_png_as_this_process(pool: RenderPool) -> None:
    frame = _frame()
    configure_fonts([])  # 与工作进程同样的字体设置
    local = Renderer(SPECS["a"], 1).render(frame)
    assert pool.render("a", frame, 30) == local
    # 同一个图表再画一次（复用工作进程里的 Figure）结果不变
    assert pool.render("a", frame, 30) == local
    assert len(set(pool.pids())) == 2 and os.getpid() not in pool.pids()
    # 图表按配置顺序轮流分给两个进程
    assert pool.assignment == {"a": 0, "b": 1, "c": 0}


def test_a_killed_render_process_is_replaced(pool: RenderPool) -> None:
    frame = _frame()
    expected = pool.render("b", frame, 30)
    victim = pool.pids()[1]
    os.kill(victim, signal.SIGKILL)
    # 这一次（或者进程退出被注意到之前的那一次）失败，之后的绘制在新进程里照常
    with pytest.raises(RenderProcessDied):
        for _ in range(50):
            pool.render("b", frame, 30)
    assert pool.render("b", frame, 30) == expected
    assert victim not in pool.pids()


def test_an_app_with_a_render_pool_draws_out_of_process(make_app: Any) -> None:
    app = make_app("testing", LIVECHART_RENDER_PROCESSES="2")
    render_pool = app.extensions[jobs.POOL]
    assert len(render_pool.pids()) == 2
    assert all(worker.renderer is None for worker in jobs.workers(app).values())
    client = app.test_client()
    first = client.get("/charts/demo.png")
    assert first.status_code == 200 and first.data.startswith(b"\x89PNG")
    with app.app_context():
        record = jobs.workers()["demo"].redraw()
        assert record is not None and store.load_image("demo").etag == record.etag
    # 绘制进程被杀：这次重绘记为失败、保留上一张图；之后自行恢复
    os.kill(render_pool.pids()[render_pool.assignment["demo"]], signal.SIGKILL)
    with app.app_context():
        wait_for(lambda: store.load_failure("demo") is not None or not jobs.workers()["demo"].redraw(), 10, "failure")
        failure = store.load_failure("demo")
        assert failure is not None and "RenderProcessDied" in failure.message
        assert store.load_image("demo") is not None
        recovered = jobs.workers()["demo"].redraw()
        assert recovered is not None and recovered.version > record.version
        assert store.load_failure("demo").consecutive == 0


@pytest.mark.parametrize("value", ["-1", "many", "33"])
def test_a_bad_process_count_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="LIVECHART_RENDER_PROCESSES"):
        create_app("testing", {"LIVECHART_RENDER_PROCESSES": value, "LIVECHART_WARM_CACHE": False, "LIVECHART_SCHEDULER": "off"})
