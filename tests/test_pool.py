"""渲染进程池：在别的进程里画出同样的图，图表固定分配，进程死掉后自行恢复。"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
from tests.conftest import ROOT
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


def test_render_processes_are_forked_from_a_forkserver_that_preloaded_matplotlib(pool: RenderPool) -> None:
    import psutil

    for pid in pool.pids():
        parent = psutil.Process(pid).parent()
        # 绘制进程不是服务进程自己 spawn 的新解释器，而是从 forkserver fork 出来的
        assert parent is not None and parent.pid != os.getpid()
        assert "forkserver" in " ".join(parent.cmdline())
        # forkserver 启动时已经导入了 Matplotlib（它的 C 扩展映射在 forkserver 的内存里）
        assert any("ft2font" in os.path.basename(region.path) for region in parent.memory_maps())


# 在子进程里建一个进程池、打印绘制进程的 pid，然后一直等着（被测试 kill -9）
_OWNER = """
import sys, time
from livechart.pool import RenderPool
from livechart.spec import parse_chart

if __name__ == "__main__":
    pool = RenderPool({"a": parse_chart("a", {"title": "a", "source": {"type": "demo"}})}, 2, 1, [])
    pool.start(60)
    print(" ".join(map(str, pool.pids())), flush=True)
    time.sleep(120)
"""


def _gone(process: Any) -> bool:
    """进程已经退出（或只剩僵尸：容器里的 1 号进程不一定回收孤儿）。"""
    import psutil

    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_render_processes_exit_when_the_serving_process_is_killed(tmp_path: Any) -> None:
    import psutil

    script = tmp_path / "owner.py"
    script.write_text(_OWNER)
    owner = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    family: list[psutil.Process] = []
    try:
        pids = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(pids) == 2
        family = psutil.Process(owner.pid).children(recursive=True)
        assert {process.pid for process in family} >= set(pids)
        owner.kill()  # 服务进程被 kill -9：不会关闭进程池
        owner.wait(10)

        # 绘制进程（与 forkserver）跟着退出，不留下孤儿
        wait_for(lambda: all(_gone(process) for process in family), 10, "render processes exited after their owner was killed")
    finally:
        owner.kill()
        owner.wait(10)
        owner.stdout.close()
        for process in family:  # 失败时也不留下孤儿
            if not _gone(process):
                process.kill()


def test_an_app_with_a_render_pool_draws_out_of_process(make_app: Any) -> None:
    app = make_app("testing", LIVECHART_RENDER_PROCESSES="2")
    render_pool = app.extensions[jobs.POOL]
    # 进程在后台启动；启动好之前（预热）在本进程里画，之后都在进程池里
    assert render_pool.ready.wait(60)
    assert len(render_pool.pids()) == 2
    client = app.test_client()
    first = client.get("/charts/demo.png")
    assert first.status_code == 200 and first.data.startswith(b"\x89PNG")
    with app.app_context():
        record = jobs.redrawers()["demo"].redraw()
        assert record is not None and store.load_image("demo").etag == record.etag
    # 绘制进程被杀：这次重绘记为失败、保留上一张图；之后自行恢复
    os.kill(render_pool.pids()[render_pool.assignment["demo"]], signal.SIGKILL)
    with app.app_context():
        wait_for(lambda: store.load_failure("demo") is not None or not jobs.redrawers()["demo"].redraw(), 10, "failure")
        failure = store.load_failure("demo")
        assert failure is not None and "RenderProcessDied" in failure.message
        assert store.load_image("demo") is not None
        recovered = jobs.redrawers()["demo"].redraw()
        assert recovered is not None and recovered.version > record.version
        assert store.load_failure("demo").consecutive == 0


@pytest.mark.parametrize("value", ["-1", "many", "33"])
def test_a_bad_process_count_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="LIVECHART_RENDER_PROCESSES"):
        create_app("testing", {"LIVECHART_RENDER_PROCESSES": value, "LIVECHART_WARM_CACHE": False, "LIVECHART_SCHEDULER": "off"})
