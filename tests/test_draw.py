"""自定义的绘图函数（图表规格的 draw）：解析与启动检查、调用约定、生命周期、出错与卡住、渲染进程池、示例的基准图。"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from examples import custom
from livechart import ConfigError
from livechart import jobs
from livechart.pool import RenderPool
from livechart.pool import RenderTimedOut
from livechart.renderer import DRAWING
from livechart.renderer import DrawingBlocked
from livechart.renderer import Renderer
from livechart.spec import parse_chart
from livechart.themes import THEMES
from tests import draw_functions
from tests.conftest import ROOT
from tests.conftest import assert_golden
from tests.conftest import pixels
from tests.conftest import require_cjk
from tests.conftest import start_server
from tests.conftest import wait_for

F = "tests.draw_functions"


def drawn(name: str = "custom", **options: Any) -> Any:
    """一个 draw 图表的规格（默认没有数据源）。"""
    return parse_chart(name, {"title": "自定义", **options})


def config(**charts: dict[str, Any]) -> dict[str, Any]:
    """只有这些图表的配置（每个图表每秒一次）。"""
    jobs_ = [
        {"id": f"redraw-{name}", "func": "livechart.jobs:redraw", "kwargs": {"chart": name}, "trigger": "interval", "seconds": 1}
        for name in charts
    ]
    return {"CHARTS": {name: {"title": name, **spec} for name, spec in charts.items()}, "JOBS": jobs_}


def frame(n: int = 30) -> pd.DataFrame:
    index = pd.date_range("2026-01-01 12:00", periods=n, freq="1s", name="time")
    return pd.DataFrame({"signal": np.linspace(0, 1, n), "walk": np.linspace(1, 0, n)}, index=index)


# ------------------------------------------------------------ 解析与启动检查


def test_draw_as_text_or_dict() -> None:
    spec = drawn(draw=f"{F}:bars")
    assert spec.draw.function == f"{F}:bars" and spec.draw.kwargs == {} and spec.draw.keep is False
    assert spec.source_type is None and spec.kind is None
    spec = drawn(draw={"function": f"{F}:inspect", "kwargs": {"label": "x"}, "keep": True}, source={"type": "demo"})
    assert spec.draw.kwargs == {"label": "x"} and spec.draw.keep is True
    assert [s.column for s in spec.series] == ["signal", "walk"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"draw": f"{F}:bars", "kind": "line"}, "选项 'draw' 和 'kind' 不能同时使用"),
        ({"draw": f"{F}:bars", "unit": "percent"}, "选项 'unit' 只适用于内置类型"),
        ({"draw": f"{F}:bars", "series": ["a"]}, "选项 'series' 需要 'source'"),
        ({"draw": "no_colon"}, "选项 'draw' 的 'function' 必须写成 '包.模块:函数'，收到 'no_colon'"),
        ({"draw": {"function": f"{F}:bars", "kwargs": [1]}}, "选项 'draw' 的 'kwargs' 必须是关键字参数的字典"),
        ({"draw": {"function": f"{F}:bars", "keep": "yes"}}, "选项 'draw' 的 'keep' 必须是 true 或 false，收到 'yes'"),
        (
            {"draw": {"function": f"{F}:inspect", "kwargs": {"label": lambda: None}}},
            "选项 'draw' 的 kwargs 'label' 必须是普通数据",
        ),
        ({"draw": {"function": f"{F}:bars", "args": []}}, "选项 'draw' 里有未知的键 'args'（可用的键：function、kwargs、keep）"),
        ({"draw": "tests.no_such_module:f"}, "选项 'draw'：无法导入 'tests.no_such_module:f'（ModuleNotFoundError"),
        ({"draw": f"{F}:missing"}, f"选项 'draw'：无法导入 '{F}:missing'"),
        ({"draw": f"{F}:NOT_CALLABLE"}, f"选项 'draw'：'{F}:NOT_CALLABLE' 不是可调用的对象"),
        (
            {"draw": f"{F}:two_arguments_only"},
            "two_arguments_only(fig: 'Any') -> 'None' 必须能以 (fig, data) 或 (fig, data, context) 调用",
        ),
        ({"draw": {"function": f"{F}:bars", "kwargs": {"colour": 1}}}, "调用，并接受关键字参数 colour"),
        ({}, "缺少选项 'source'（或者 'draw'"),
    ],
)
def test_bad_draw_options_stop_start_up_naming_the_chart(make_app: Any, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_app("testing", **config(mine=options))
    text = str(caught.value)
    assert text.startswith("CHARTS['mine']：") and message in text and "\n" not in text


def test_a_value_that_cannot_be_copied_is_a_configuration_error(make_app: Any) -> None:
    with pytest.raises(ConfigError, match=r"^CHARTS：值必须是能复制的普通数据（TypeError: cannot pickle"):
        make_app("testing", **config(mine={"draw": {"function": f"{F}:inspect", "kwargs": {"label": threading.Lock()}}}))


def test_python_m_livechart_prints_one_line_for_a_draw_function_that_cannot_be_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from livechart.__main__ import main

    (tmp_path / "badconf.py").write_text(
        "from config import TestingConfig\n\n"
        "class Bad(TestingConfig):\n"
        "    CHARTS = {'mine': {'title': 'x', 'draw': 'nowhere.mod:draw'}}\n"
        "    JOBS = [{'id': 'redraw-mine', 'func': 'livechart.jobs:redraw', 'kwargs': {'chart': 'mine'}, "
        "'trigger': 'interval', 'seconds': 1}]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LIVECHART_CONFIG", "badconf:Bad")
    assert main() == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "livechart：配置错误：CHARTS['mine']：选项 'draw'：无法导入 'nowhere.mod:draw'"
        "（ModuleNotFoundError: No module named 'nowhere'）"
    ]
    monkeypatch.delitem(sys.modules, "badconf", raising=False)


# ------------------------------------------------------------ 调用约定


def test_the_function_gets_a_figure_of_the_chart_size_a_copy_of_the_window_and_a_context() -> None:
    renderer = Renderer(drawn(draw={"function": f"{F}:inspect", "kwargs": {"label": "标签"}}, source={"type": "demo"},
                              size=[640, 300], dpi=80))  # fmt: skip
    window = frame()
    png = renderer.render(window)
    seen = draw_functions.SEEN
    assert seen["size"] == pytest.approx((640, 300)) and seen["dpi"] == 80
    assert seen["data"].equals(frame()) and window.equals(frame())  # 函数改了它收到的 data，窗口不变
    context = seen["context"]
    assert (context.chart, context.theme, context.scale, context.state) == ("custom", "light", 1.0, {"calls": 1})
    assert seen["label"] == "标签"
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (640, 300) and image.mode == "RGB"


def test_one_function_serves_every_theme_and_scale() -> None:
    """同一个函数画亮色、暗色、2× 的图而不必知道：主题是样式上下文，倍率是 Figure 的 dpi。"""
    renderer = Renderer(drawn(draw=f"{F}:inspect"))
    light = pixels(renderer.render(None))
    assert to_hex(draw_functions.SEEN["face"]) == THEMES["light"].face
    dark = pixels(renderer.render(None, theme="dark", scale=2))
    assert light.shape == (400, 800, 3) and dark.shape == (800, 1600, 3)
    assert draw_functions.SEEN["dpi"] == 200 and draw_functions.SEEN["context"].scale == 2
    assert to_hex(dark[5, 5] / 255) == THEMES["dark"].face and to_hex(light[5, 5] / 255) == THEMES["light"].face
    # 每个变体一个 Figure；图表的 state 各变体共用
    assert len(renderer.pages) == 2 and renderer.state == {"calls": 2}


def test_by_default_the_figure_is_cleared_and_reused() -> None:
    renderer = Renderer(drawn(draw=f"{F}:inspect"))
    for _ in range(5):
        renderer.render(None)
        assert draw_functions.SEEN["axes_before"] == 0
    figure = renderer.page().figure
    assert draw_functions.SEEN["figure"] is figure and len(figure.axes) == 1


def test_keep_leaves_the_artists_for_the_function_to_update() -> None:
    renderer = Renderer(drawn(draw={"function": f"{F}:kept", "keep": True}))
    first = pixels(renderer.render(None))
    line = draw_functions.SEEN["line"]
    second = pixels(renderer.render(None))
    assert draw_functions.SEEN["line"] is line and len(renderer.page().figure.axes) == 1
    assert (first != second).any()  # 更新了数据，图变了


def test_the_kept_histogram_draws_exactly_what_the_plain_one_draws() -> None:
    """keep=True 的示例函数与每次从头画的函数，对同样的数据画出逐像素相同的图（图元确实被更新了）。"""
    source = {"type": "python", "callable": "examples.custom:latencies", "columns": ["latency_ms"]}
    plain = Renderer(drawn(source=source, draw="examples.custom:latency_histogram"))
    kept = Renderer(drawn(source=source, draw={"function": "examples.custom:latency_histogram_kept", "keep": True}))
    for seeds in (range(0, 8), range(8, 10), range(0, 0), range(3, 15)):
        window = pd.concat([custom.latencies(seed=seed) for seed in seeds]) if len(seeds) else custom.latencies(rate=0)
        assert (pixels(plain.render(window)) == pixels(kept.render(window))).all()


def test_an_error_resets_a_kept_figure() -> None:
    renderer = Renderer(drawn(draw={"function": f"{F}:kept", "keep": True}))
    renderer.render(None)
    renderer.page().artists["line"] = "not a line"
    with pytest.raises(AttributeError):
        renderer.render(None)
    assert renderer.page().artists == {} and renderer.page().figure.axes == []
    renderer.render(None)  # 下一次从空的 Figure 开始
    assert len(renderer.page().figure.axes) == 1


def test_importing_pyplot_logs_one_warning() -> None:
    """pyplot 被导入到服务里时记一条警告（每个进程一次）。在子进程里试：导入 pyplot 会留在这个测试进程里。"""
    code = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format='%(levelname)s %(message)s')\n"
        "from livechart.renderer import Renderer\n"
        "from livechart.spec import parse_chart\n"
        f"r = Renderer(parse_chart('p', {{'title': 'p', 'draw': '{F}:uses_pyplot'}}))\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "for _ in range(3):\n"
        "    r.render(None)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "pyplot" in line]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING matplotlib.pyplot 已被导入"), result.stderr


# ------------------------------------------------------------ 在服务里


def test_a_chart_without_a_source_is_served_like_any_other(make_app: Any) -> None:
    app = make_app("testing", **config(plain={"draw": f"{F}:counted"}, demo={"source": {"type": "demo"}}))
    client = app.test_client()
    status = client.get("/api/charts/plain").get_json()
    assert status["version"] == 1 and status["last_error"] is None and status["data_warnings"] == []
    first = client.get("/plot.png")  # 第一个图表
    assert first.status_code == 200 and first.data == client.get("/charts/plain.png").data and first.headers["ETag"]
    data = client.get("/api/charts/plain/data")
    assert data.status_code == 404 and "没有可导出的数据：它没有数据源" in data.get_json()["message"]
    with app.app_context():
        jobs.redraw("plain")
    assert client.get("/api/charts/plain").get_json()["version"] == 2
    assert 'livechart_renders_total{chart="plain"} 2.0' in client.get("/metrics").get_data(as_text=True)
    assert client.get("/api/charts/demo/data").status_code == 200


def test_a_failing_function_keeps_the_last_image_and_says_why(make_app: Any, tmp_path: Path, monkeypatch: Any) -> None:
    switch = tmp_path / "break"
    monkeypatch.setenv("LIVECHART_TEST_BREAK", str(switch))
    app = make_app("testing", **config(fragile={"draw": f"{F}:broken"}))
    client = app.test_client()
    good = client.get("/charts/fragile.png").data
    switch.touch()
    with app.app_context():
        jobs.redraw("fragile")
    status = client.get("/api/charts/fragile").get_json()
    assert status["version"] == 1
    assert status["last_error"]["message"] == f"绘图函数 {F}:broken：ZeroDivisionError: division by zero in the test function"
    assert client.get("/charts/fragile.png").data == good
    switch.unlink()
    with app.app_context():
        jobs.redraw("fragile")
    status = client.get("/api/charts/fragile").get_json()
    assert status["version"] == 2 and status["last_error"]["consecutive_failures"] == 0


def test_a_hung_function_in_process_is_reported_by_itself_and_the_charts_it_blocks(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """本进程里卡住的绘图函数让所有绘制停下。调度器在跑：卡住的图表的节拍被跳过，它自己报告“没有返回”
    （以前：只有手动 /run 才会报告，状态里一直是 null）；等锁的图表说它在等谁，而不是怪自己的函数。恢复后都好了。"""
    caplog.set_level(logging.INFO, logger="livechart")
    app = make_app("testing", LIVECHART_SCHEDULER="running", LIVECHART_RENDER_TIMEOUT=0.5,
                   **config(stuck={"draw": f"{F}:hang"}, other={"draw": f"{F}:bars"}))  # fmt: skip
    client = app.test_client()
    draw_functions.HANG.set()
    try:
        wait_for(lambda: DRAWING.holder == "stuck", 10, "the hung function never started")

        def failure(chart: str) -> str:
            error = client.get(f"/api/charts/{chart}").get_json()["last_error"]
            return error["message"] if error and error["consecutive_failures"] else ""

        wait_for(lambda: "还没有返回" in failure("stuck"), 10, "the hung chart never reported itself")
        wait_for(lambda: "在等图表 'stuck'" in failure("other"), 10, "the blocked chart never said why")
        assert failure("other").startswith("绘制：DrawingBlocked: 在等图表 'stuck'，它已经画了 ")
        assert "LIVECHART_RENDER_PROCESSES" in failure("stuck")
    finally:
        draw_functions.HANG.clear()
    wait_for(lambda: not failure("stuck") and not failure("other"), 10, "the charts did not recover")
    hung = [r.getMessage() for r in caplog.records if "没有返回" in r.getMessage()]
    assert len(hung) == 1 and hung[0].startswith("图表 stuck 的绘图函数已经"), hung  # 记一次，不是每个节拍一条


def test_skipped_ticks_of_redraw_jobs_are_not_logged_every_tick() -> None:
    """APScheduler 每个被跳过的节拍一条警告：重绘任务的去掉（livechart 自己报告一次原因），别的任务照常。"""
    from apscheduler.schedulers.background import BackgroundScheduler

    from livechart.logs import SkippedTicks

    def record(job_id: str) -> logging.LogRecord:
        job = BackgroundScheduler().add_job(print, "interval", seconds=1, id=job_id, name="a name")  # 没启动：只建出 Job
        message = 'Execution of job "%s" skipped: maximum number of running instances reached (%d)'
        return logging.LogRecord("apscheduler.scheduler", logging.WARNING, __file__, 1, message, (job, 1), None)

    assert SkippedTicks().filter(record("redraw-cpu")) is False
    assert SkippedTicks().filter(record("backup")) is True


def test_drawing_blocked_names_the_chart_holding_the_lock() -> None:
    draw_functions.HANG.set()
    hung = Renderer(drawn("stuck", draw=f"{F}:hang"))
    thread = threading.Thread(target=hung.render, args=(None,), daemon=True)
    try:
        thread.start()
        wait_for(lambda: DRAWING.holder == "stuck", 10, "the hung function never started")
        with pytest.raises(DrawingBlocked, match=r"^在等图表 'stuck'，它已经画了 \d+ 秒；"):
            Renderer(drawn("waiting", draw=f"{F}:bars"), timeout=0.2).render(None)
    finally:
        draw_functions.HANG.clear()
        thread.join(10)


# ------------------------------------------------------------ 渲染进程池


def test_a_hung_render_in_the_pool_is_abandoned_and_only_its_process_waits() -> None:
    """超过期限的绘制被放弃、它的进程被换掉；分给同一进程的图表（同样的期限）在新进程上画出来，别的进程里的图表不受影响；
    超时的图表之后一段时间不再送去画，不会一次次卡住它的邻居。以前：卡住的进程一直卡着，排在后面的绘制跟着一起超时。"""
    specs = {
        "stuck": drawn("stuck", draw=f"{F}:hang_forever"),
        "fine": drawn("fine", draw=f"{F}:bars"),
        "neighbour": drawn("neighbour", draw=f"{F}:counted"),
    }
    pool = RenderPool(specs, 2, 1, [])
    try:
        pool.start(60)
        assert pool.assignment == {"stuck": 0, "fine": 1, "neighbour": 0}
        old = pool.pids()
        results: dict[str, Any] = {}

        def render(name: str) -> None:
            try:
                results[name] = pool.render(name, None, 1.0)
            except Exception as exc:
                results[name] = exc

        threads = [threading.Thread(target=render, args=("stuck",))]
        threads[0].start()
        wait_for(lambda: pool.slots[0].locked(), 10, "the stuck render never started")
        threads.append(threading.Thread(target=render, args=("neighbour",)))
        threads[1].start()  # 排在卡住的那次后面，期限一样
        render("fine")
        assert results["fine"].startswith(b"\x89PNG") and threads[0].is_alive()  # 别的进程照常画
        for thread in threads:
            thread.join(60)
        assert isinstance(results["stuck"], RenderTimedOut)
        assert "超过了 LIVECHART_RENDER_TIMEOUT（1 秒）：已放弃这次绘制" in str(results["stuck"])
        assert results["neighbour"].startswith(b"\x89PNG")
        new = pool.pids()
        assert old[0] not in new and old[1] in new
        wait_for(
            lambda: subprocess.run(["kill", "-0", str(old[0])], capture_output=True).returncode != 0, 10, "old process alive"
        )
        # 刚超时的图表暂停送画：立即失败，不占它的进程；邻居照常
        started = time.monotonic()
        with pytest.raises(
            RenderTimedOut, match=r"^上一次绘制超过了 LIVECHART_RENDER_TIMEOUT（1 秒）：接下来 \d+ 秒内不再画这个图表"
        ):
            pool.render("stuck", None, 1.0)
        assert time.monotonic() - started < 0.5
        assert pool.render("neighbour", None, 1.0).startswith(b"\x89PNG") and pool.pids() == new
    finally:
        pool.shutdown()


# ------------------------------------------------------------ 示例（examples/custom.py）


def latency_window() -> pd.DataFrame:
    return pd.concat([custom.latencies(seed=seed) for seed in range(60)])


def cores_window() -> pd.DataFrame:
    index = pd.date_range("2026-01-01 12:00", periods=120, freq="1s", name="time")
    rng = np.random.default_rng(7)
    load = np.clip(rng.normal(35, 20, (120, 4)) + np.linspace(0, 40, 120)[:, None], 0, 100)
    return pd.DataFrame(load, index=index, columns=[f"cpu{i}" for i in range(4)])


def example(name: str) -> Any:
    return parse_chart(name, custom.Config.CHARTS[name])


@pytest.mark.parametrize(("name", "window"), [("latency", latency_window), ("cores", cores_window), ("noise", None)])
def test_example_golden_images(name: str, window: Any, tmp_path: Path) -> None:
    require_cjk()
    np.random.seed(0)  # noise 用 numpy 的全局随机数
    png = Renderer(example(name)).render(window() if window else None)
    assert_golden(f"custom_{name}", png, tmp_path)


def test_the_plainest_example_is_under_fifteen_lines() -> None:
    text = (ROOT / "examples" / "custom.py").read_text()
    function = text[text.index("def noise(") : text.index("\n\n\n", text.index("def noise("))]
    entry = [line for line in text.splitlines() if '"noise":' in line]
    assert len(function.splitlines()) + len(entry) + 1 < 15  # 函数、CHARTS 里的一行、JOBS 里的一个任务


def test_the_custom_example_runs_as_the_readme_says(tmp_path: Path) -> None:
    """LIVECHART_CONFIG=examples.custom make run：真实的进程里三张图在后台每秒重画，没有错误。"""
    server = start_server(tmp_path, env={"LIVECHART_CONFIG": "examples.custom"})
    try:
        wait_for(lambda: all(server.version(name) >= 2 for name in ("latency", "cores", "noise")), 30, "charts not redrawn")
        for name in ("latency", "cores", "noise"):
            status = server.get(f"/api/charts/{name}").json()
            assert status["last_error"] is None, status
            assert server.get(f"/charts/{name}.png").content.startswith(b"\x89PNG")
        assert server.get("/plot.png").headers["X-Livechart-Version"]
        assert "pyplot" not in server.log.read_text()
    finally:
        assert server.stop() == 0, server.log.read_text()


def test_a_cleared_figure_forgets_what_the_last_call_set() -> None:
    """clear() 之外，布局引擎、subplots_adjust 的边距、尺寸、dpi、底色也复原：函数每次拿到的都像一个新的 Figure。"""
    renderer = Renderer(drawn(draw=f"{F}:inspect"))
    reference = pixels(renderer.render(None))
    figure = renderer.page().figure
    figure.subplots_adjust(left=0.4)
    figure.set_layout_engine("constrained")
    figure.set_size_inches(3, 3)
    figure.set_facecolor("red")
    again = pixels(renderer.render(None))
    assert figure.get_layout_engine() is None and figure.subplotpars.left == 0.125
    assert again.shape == reference.shape and (again == reference).all()


def test_any_figure_works_several_axes_pie_image_with_colorbar_hist_annotations_and_chinese(tmp_path: Path) -> None:
    """几个子图、饼图、imshow 加颜色条、直方图、标注、中文（用检测到的 CJK 字体：缺字形会警告，警告在测试里是错误）。"""
    require_cjk()
    png = Renderer(drawn(draw=f"{F}:gallery", size=[900, 600])).render(None)
    assert_golden("custom_gallery", png, tmp_path)


@pytest.mark.parametrize(
    ("function", "kwargs", "message"),
    [
        ("leaky", {"token": "sk-live-9f8e7d6c5b4a"}, f"绘图函数 {F}:leaky：PermissionError: the API rejected …"),
        ("exits", {}, f"绘图函数 {F}:exits：DrawFunctionExited: 绘图函数抛出了 SystemExit: usage: exits"),
        ("resizes", {}, f"绘图函数 {F}:resizes：ValueError: 绘图函数把 Figure 改成了 1200x300 像素；"),
    ],
)
def test_what_a_draw_function_does_wrong_is_a_clear_public_error(
    make_app: Any, function: str, kwargs: dict[str, Any], message: str
) -> None:
    """机密（kwargs 里像凭据的值）不进公开的消息；sys.exit() 不结束线程或请求；改了 Figure 的大小要说清楚。"""
    app = make_app("testing", **config(mine={"draw": {"function": f"{F}:{function}", "kwargs": kwargs}}))
    client = app.test_client()
    status = client.get("/api/charts/mine").get_json()
    assert status["last_error"]["message"].startswith(message), status
    assert "sk-live" not in client.get("/api/charts").get_data(as_text=True)
    run = client.post("/scheduler/jobs/redraw-mine/run", json={})
    assert run.status_code == 424 and run.get_json()["message"] == f"图表 'mine' 没有重绘成功：{status['last_error']['message']}"


def test_kwargs_named_like_a_parameter_and_a_frameless_figure() -> None:
    with pytest.raises(
        ConfigError, match=r"选项 'draw' 的 kwargs 'context' 与 tests\.draw_functions:clashing 的 \(fig, data, context\) 参数同名"
    ):
        drawn(draw={"function": f"{F}:clashing", "kwargs": {"context": 1}})
    renderer = Renderer(drawn(draw=f"{F}:frameless"))
    with Image.open(io.BytesIO(renderer.render(None))) as image:
        assert image.mode == "RGBA"  # 这一次函数自己去掉了底色
    with Image.open(io.BytesIO(renderer.render(None))) as image:
        assert image.mode == "RGB"  # 下一次的 Figure 又像新的一样
