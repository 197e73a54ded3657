"""页面：用 Playwright 驱动 Debian 的 Chromium（/usr/bin/chromium），打开真实服务进程的页面。"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server
from tests.conftest import require_program
from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
# 本机网络是封闭的：关掉 Chromium 的后台联网，否则会不断尝试连接外部主机
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """无界面的 Chromium。"""
    require_program(CHROMIUM, "browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, shared_server: Server) -> Iterator[Any]:
    """打开首页的标签页；记录控制台错误与图片请求。"""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.console_errors = []
    tab.image_requests = []
    tab.on("console", lambda m: m.type == "error" and tab.console_errors.append(m.text))
    tab.on("pageerror", lambda e: tab.console_errors.append(str(e)))
    tab.on("request", lambda r: ".png" in r.url and tab.image_requests.append((time.monotonic(), r.url)))
    tab.goto(shared_server.url + "/")
    yield tab
    context.close()


def src(page: Any, chart: str) -> str:
    return page.get_attribute(f"#chart-{chart} img.plot", "src")


def pixels(page: Any, chart: str) -> str:
    """<img> 当前显示的像素（经 canvas 读出），用来确认显示的图真的变了。"""
    return page.evaluate(
        """(chart) => {
            const img = document.querySelector(`#chart-${chart} img.plot`);
            const canvas = document.createElement("canvas");
            canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
            const ctx = canvas.getContext("2d");
            ctx.drawImage(img, 0, 0);
            return canvas.toDataURL();
        }""",
        chart,
    )


def set_hidden(page: Any, hidden: bool) -> None:
    """模拟标签页被隐藏或重新可见。"""
    page.evaluate(
        """(hidden) => {
            Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
            Object.defineProperty(document, "visibilityState", { configurable: true, get: () => hidden ? "hidden" : "visible" });
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def test_images_refresh_with_timestamp_and_really_change(page: Any) -> None:
    page.wait_for_function("document.querySelector('#chart-demo img.plot').src.includes('?t=')", timeout=15000)
    first_src, first_pixels = src(page, "demo"), pixels(page, "demo")
    wait_for(lambda: src(page, "demo") != first_src, 15, "demo image src did not change")
    assert "/charts/demo.png?t=" in src(page, "demo")
    wait_for(lambda: pixels(page, "demo") != first_pixels, 15, "displayed demo image did not change")
    # 每个图表都在刷新，显示“更新于 …（N 秒前）”和刷新周期
    for chart in ("cpu", "demo"):
        page.wait_for_function(f"document.querySelector('#chart-{chart} img.plot').src.includes('?t=')", timeout=15000)
        page.wait_for_function(f"document.querySelector('#chart-{chart} .updated').textContent.includes('更新于')", timeout=10000)
        assert "秒刷新" in page.text_content(f"#chart-{chart} .period")
        assert page.evaluate(f"document.querySelector('#chart-{chart} img.plot').naturalWidth") == 800
    assert page.console_errors == []


def test_page_follows_pause_and_resume_made_over_rest(page: Any, shared_server: Server) -> None:
    page.wait_for_function("document.querySelector('#chart-cpu .period').textContent.includes('秒刷新')", timeout=10000)
    assert shared_server.post("/scheduler/jobs/redraw-cpu/pause").status_code == 200
    try:
        page.wait_for_function("document.querySelector('#chart-cpu .period').textContent === '已暂停'", timeout=10000)
        # 暂停后不再请求这个图表的图片
        seen = len([u for _, u in page.image_requests if "/charts/cpu.png" in u])
        page.wait_for_timeout(2500)
        assert len([u for _, u in page.image_requests if "/charts/cpu.png" in u]) == seen
    finally:
        assert shared_server.post("/scheduler/jobs/redraw-cpu/resume").status_code == 200
    page.wait_for_function("document.querySelector('#chart-cpu .period').textContent.includes('秒刷新')", timeout=10000)
    assert page.console_errors == []


def test_hidden_tab_stops_polling_and_catches_up_when_shown(page: Any) -> None:
    page.wait_for_function("document.querySelector('#chart-demo img.plot').src.includes('?t=')", timeout=15000)
    set_hidden(page, True)
    hidden_at = time.monotonic()
    page.wait_for_timeout(2500)
    # 隐藏后（允许一个已经在路上的请求）不再请求图片
    assert [u for t, u in page.image_requests if t > hidden_at + 0.3] == []
    shown_at = time.monotonic()
    set_hidden(page, False)
    # 重新可见时立即刷新每个图表，而不是等下一个间隔
    wait_for(
        lambda: (
            {c for t, u in page.image_requests if t >= shown_at for c in ("cpu", "demo") if f"/charts/{c}.png" in u}
            == {"cpu", "demo"}
        ),
        0.9,
        "charts were not refreshed at once when the tab became visible",
    )
    assert page.console_errors == []


def test_screenshot_is_not_blank(page: Any, tmp_path: Any) -> None:
    from io import BytesIO

    from PIL import Image
    from PIL import ImageStat

    page.wait_for_function("[...document.querySelectorAll('img.plot')].every(i => i.complete && i.naturalWidth > 0)")
    shot = Image.open(BytesIO(page.screenshot(full_page=True))).convert("L")
    assert ImageStat.Stat(shot).stddev[0] > 5  # 空白页的标准差接近 0
    for chart in ("cpu", "demo"):
        element = Image.open(BytesIO(page.locator(f"#chart-{chart} img.plot").screenshot())).convert("L")
        histogram = element.histogram()
        drawn = sum(histogram[:200]) / sum(histogram)  # 明显比白色深的像素：文字、坐标轴、曲线
        assert drawn > 0.005, f"chart {chart} looks blank ({drawn:.3%} drawn pixels)"
