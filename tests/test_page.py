"""页面：用 Playwright 驱动 Debian 的 Chromium（/usr/bin/chromium），打开真实服务进程的页面。"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.chromium import CHROMIUM
from tests.chromium import CHROMIUM_ARGS
from tests.conftest import Server
from tests.conftest import require_program
from tests.conftest import start_server
from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """无界面的 Chromium。"""
    require_program(CHROMIUM, "browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def open_page(browser: Any, server: Server, **context_options: Any) -> Any:
    """打开首页的标签页；记录控制台错误与图片请求。"""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context_options})
    tab = context.new_page()
    tab.console_errors = []
    tab.image_requests = []
    tab.on("console", lambda m: m.type == "error" and tab.console_errors.append(m.text))
    tab.on("pageerror", lambda e: tab.console_errors.append(str(e)))
    tab.on("request", lambda r: ".png" in r.url and tab.image_requests.append((time.monotonic(), r.url)))
    tab.goto(server.url + "/")
    return tab


@pytest.fixture
def page(browser: Any, shared_server: Server) -> Iterator[Any]:
    """共享服务进程上的页面。"""
    tab = open_page(browser, shared_server)
    yield tab
    tab.context.close()


def until(page: Any, expression: str, timeout: float) -> None:
    """从 Python 端轮询页面里的表达式（page.evaluate 走 DevTools 协议，不受页面 CSP 限制；
    Playwright 的 wait_for_function 在页面里用 eval，会被 CSP 正确地拦下）。"""
    wait_for(lambda: page.evaluate(expression), timeout, f"page never satisfied: {expression}", step=0.1)


def src(page: Any, chart: str) -> str:
    return page.get_attribute(f"#chart-{chart} img.plot", "data-src")


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


def demo_requests(tab: Any, since: float) -> list[str]:
    """since（time.monotonic()）之后页面对 demo 图片的请求。"""
    return [url for at, url in tab.image_requests if at > since and "/charts/demo.png" in url]


def until_demo_is_current(tab: Any, server: Server) -> None:
    """等到页面显示着 demo 的最新一版（状态里的版本）。"""
    wait_for(
        lambda: tab.evaluate("Number(document.querySelector('#chart-demo img.plot').dataset.version)") == server.version("demo"),
        15,
        "the page never showed the newest demo image",
    )


def test_images_refresh_with_timestamp_and_really_change(page: Any) -> None:
    until(page, "document.querySelector('#chart-demo img.plot').dataset.src?.includes('?t=')", 15)
    first_src, first_pixels = src(page, "demo"), pixels(page, "demo")
    wait_for(lambda: src(page, "demo") != first_src, 15, "demo image src did not change")
    assert "/charts/demo.png?t=" in src(page, "demo")
    wait_for(lambda: pixels(page, "demo") != first_pixels, 15, "displayed demo image did not change")
    # 每个图表都在刷新，显示“更新于 …（N 秒前）”和刷新周期
    for chart in ("cpu", "demo"):
        until(page, f"document.querySelector('#chart-{chart} img.plot').dataset.src?.includes('?t=')", 15)
        until(page, f"document.querySelector('#chart-{chart} .updated').textContent.includes('更新于')", 10)
        assert "秒刷新" in page.text_content(f"#chart-{chart} .period")
        assert page.evaluate(f"document.querySelector('#chart-{chart} img.plot').naturalWidth") == 800
    assert page.console_errors == []


def test_page_follows_pause_and_resume_made_over_rest(page: Any, shared_server: Server) -> None:
    until(page, "document.querySelector('#chart-cpu .period').textContent.includes('秒刷新')", 10)
    assert shared_server.post("/scheduler/jobs/redraw-cpu/pause").status_code == 200
    try:
        until(page, "document.querySelector('#chart-cpu .period').textContent === '已暂停'", 10)
        # 暂停前画好的最后一版，页面取来显示（只一次）；之后不再请求这个图表的图片
        last = shared_server.get("/api/charts/cpu").json()["rendered_at"]
        shown = "Number(document.querySelector('#chart-cpu .plot').dataset.renderedAt)"
        until(page, f"Math.abs({shown} - Date.parse('{last}')) <= 1", 10)
        seen = len([u for _, u in page.image_requests if "/charts/cpu.png" in u])
        page.wait_for_timeout(2500)
        assert len([u for _, u in page.image_requests if "/charts/cpu.png" in u]) == seen
    finally:
        assert shared_server.post("/scheduler/jobs/redraw-cpu/resume").status_code == 200
    until(page, "document.querySelector('#chart-cpu .period').textContent.includes('秒刷新')", 10)
    assert page.console_errors == []


def test_hidden_tab_stops_polling_and_catches_up_when_shown(browser: Any, tmp_path: Any) -> None:
    """隐藏的标签页不再请求图片（cpu 每秒重绘）；重新可见时立即问一次每个图表，而不是等下一个节拍——
    demo 每小时才重绘，它的定时器一小时内不会去取，所以看到的请求只能来自重新可见的那一刻。"""
    server = start_server(tmp_path, env={"LIVECHART_CONFIG": "tests.e2e_config:LongIntervalE2EConfig"})
    tab = open_page(browser, server)
    try:
        until(tab, "document.querySelector('#chart-demo img.plot').dataset.src?.includes('?t=')", 15)
        until(tab, "document.querySelector('#chart-cpu img.plot').dataset.src?.includes('?t=')", 15)
        set_hidden(tab, True)
        hidden_at = time.monotonic()
        tab.wait_for_timeout(2500)
        # 隐藏后（允许一个已经在路上的请求）不再请求图片
        assert [u for t, u in tab.image_requests if t > hidden_at + 0.3] == []
        shown_at = time.monotonic()
        set_hidden(tab, False)
        wait_for(lambda: demo_requests(tab, shown_at) != [], 10, "demo was not asked for when the tab became visible")
        assert tab.console_errors == []
    finally:
        tab.context.close()
        server.stop()


def test_screenshot_is_not_blank(page: Any) -> None:
    from io import BytesIO

    from PIL import Image
    from PIL import ImageStat

    until(page, "[...document.querySelectorAll('img.plot')].every(i => i.complete && i.naturalWidth > 0)", 30)
    shot = Image.open(BytesIO(page.screenshot(full_page=True))).convert("L")
    assert ImageStat.Stat(shot).stddev[0] > 5  # 空白页的标准差接近 0
    for chart in ("cpu", "demo"):
        # 页面每次刷新都换一个新的 <img>（预加载后替换）：按位置截图，不依赖某一个元素还在 DOM 里
        box = wait_for(lambda chart=chart: page.locator(f"#chart-{chart} img.plot").bounding_box(), 10, "image box")
        element = Image.open(BytesIO(page.screenshot(clip=box, full_page=True))).convert("L")
        histogram = element.histogram()
        drawn = sum(histogram[:200]) / sum(histogram)  # 明显比白色深的像素：文字、坐标轴、曲线
        assert drawn > 0.005, f"chart {chart} looks blank ({drawn:.3%} drawn pixels)"


def badge(page: Any, chart: str) -> str:
    return page.text_content(f"#chart-{chart} .badge")


def test_pause_and_resume_from_the_page(page: Any, shared_server: Server) -> None:
    """页面上的按钮调用 /scheduler：暂停后徽章显示“已暂停”、不再请求这个图表；恢复后继续。"""
    until(page, "document.querySelector('#chart-cpu .badge').textContent === '实时'", 10)
    try:
        page.click("#chart-cpu [data-action=pause]")
        until(page, "document.querySelector('#chart-cpu .badge').textContent === '已暂停'", 10)
        assert shared_server.get("/api/charts/cpu").json()["paused"] is True
        assert page.is_disabled("#chart-cpu [data-action=pause]") and page.is_enabled("#chart-cpu [data-action=resume]")
        # 暂停前开始的那次重绘可能在暂停之后才写完：页面看到新版本时取一次（那是该显示的最后一张图）。
        # 等版本号不再变、页面又轮询过一次状态之后再数
        last = {"version": shared_server.version("cpu"), "at": time.monotonic()}

        def steady() -> bool:
            version = shared_server.version("cpu")
            if version != last["version"]:
                last.update(version=version, at=time.monotonic())
            return time.monotonic() - last["at"] > 1.2

        wait_for(steady, 10, "the last render before the pause landed")
        page.wait_for_timeout(2500)  # 页面每 2 秒轮询一次状态
        seen = len([u for _, u in page.image_requests if "/charts/cpu.png" in u])
        version = shared_server.version("cpu")
        page.wait_for_timeout(2500)
        assert len([u for _, u in page.image_requests if "/charts/cpu.png" in u]) == seen
        assert shared_server.version("cpu") == version
    finally:
        page.click("#chart-cpu [data-action=resume]")
    until(page, "document.querySelector('#chart-cpu .badge').textContent === '实时'", 10)
    wait_for(lambda: shared_server.version("cpu") > version, 10, "cpu did not resume")
    assert page.text_content("#chart-cpu .notice") == ""
    assert page.console_errors == []


def test_run_now_and_interval_selector(page: Any, shared_server: Server) -> None:
    try:
        page.click("#chart-demo [data-action=pause]")
        until(page, "document.querySelector('#chart-demo .badge').textContent === '已暂停'", 10)
        version = shared_server.version("demo")
        page.click("#chart-demo [data-action=run]")
        wait_for(lambda: shared_server.version("demo") == version + 1, 10, "run now did not redraw")
        page.click("#chart-demo [data-action=resume]")
        page.select_option("#chart-demo select.interval", "5")
        until(page, "document.querySelector('#chart-demo .period').textContent === '每 5 秒刷新'", 10)
        assert shared_server.get("/api/charts/demo").json()["interval"] == 5
    finally:
        shared_server.patch("/scheduler/jobs/redraw-demo", json={"trigger": "interval", "seconds": 1})
        shared_server.post("/scheduler/jobs/redraw-demo/resume")
    until(page, "document.querySelector('#chart-demo .period').textContent === '每 1 秒刷新'", 10)
    assert page.console_errors == []


def selected_interval(page: Any, chart: str) -> str:
    """间隔选择器当前选中项的文字。"""
    return page.evaluate(f"(() => {{ const s = document.querySelector('#chart-{chart} select.interval');"
                         " return s.options[s.selectedIndex].textContent; })()")  # fmt: skip


def test_durations_read_the_way_people_write_them(page: Any, shared_server: Server) -> None:
    """页面上的时长写成“5 分钟”“1 分 30 秒”“1 小时”，而不是“300 秒”：刷新周期、间隔选项，以及页面为
    不在选项里的间隔补上的那一项。"""
    until(page, "document.querySelector('#chart-demo .period').textContent === '每 1 秒刷新'", 10)
    options = page.evaluate("[...document.querySelectorAll('#chart-demo select.interval option')].map(o => o.textContent)")
    assert options == ["1 秒", "2 秒", "5 秒", "10 秒", "30 秒", "1 分钟", "5 分钟"]
    assert selected_interval(page, "demo") == "1 秒"
    try:
        for seconds, text in [(300, "5 分钟"), (90, "1 分 30 秒"), (3600, "1 小时"), (5400, "1 小时 30 分钟")]:
            answer = shared_server.patch("/scheduler/jobs/redraw-demo", json={"trigger": "interval", "seconds": seconds})
            assert answer.status_code == 200, answer.text
            until(page, f"document.querySelector('#chart-demo .period').textContent === '每 {text}刷新'", 10)
            assert selected_interval(page, "demo") == text
    finally:
        shared_server.patch("/scheduler/jobs/redraw-demo", json={"trigger": "interval", "seconds": 1})
    until(page, "document.querySelector('#chart-demo .period').textContent === '每 1 秒刷新'", 10)
    assert page.console_errors == []


def test_the_stale_factor_is_passed_to_the_page(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """过期判定的间隔数只在 livechart/views.py 定义一次：页面从 <body data-stale-intervals> 拿到它。"""
    from livechart import views

    monkeypatch.setattr(views, "STALE_INTERVALS", 5)
    html = make_app().test_client().get("/").get_data(as_text=True)
    assert 'data-stale-intervals="5"' in html


def test_the_stale_badge_uses_the_servers_factor(browser: Any, shared_server: Server) -> None:
    """已过期的徽章：悬停的说明用服务器给的间隔数（data-stale-intervals），而不是脚本里另写的一个 3。
    把页面里的值改成 7、把状态里的 demo 标成过期：说明跟着变成 7 个间隔。"""
    from livechart import views

    real = f'data-stale-intervals="{views.STALE_INTERVALS}"'
    served: list[str] = []

    def page_with_seven(route: Any) -> None:
        response = route.fetch()
        html = response.text()
        served.append(html)
        route.fulfill(response=response, body=html.replace(real, 'data-stale-intervals="7"'))

    def demo_is_stale(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for chart in body["charts"]:
            chart["stale"] = chart["name"] == "demo"
        route.fulfill(response=response, json=body)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.route(shared_server.url + "/", page_with_seven)
    tab.route("**/api/charts", demo_is_stale)
    try:
        tab.goto(shared_server.url + "/")
        assert served and real in served[0]
        until(tab, "document.querySelector('#chart-demo .badge').textContent === '已过期'", 10)
        # shared_server 的 demo 每秒重绘一次：7 个间隔是 7 秒
        assert tab.get_attribute("#chart-demo .badge", "title") == "超过 7 个刷新间隔（7 秒）没有新图"
        assert tab.text_content("#chart-cpu .badge") == "实时"
        assert errors == []
    finally:
        context.close()


def test_failed_image_keeps_the_last_one_and_recovers(page: Any) -> None:
    until(page, "document.querySelector('#chart-demo img.plot').dataset.src?.includes('?t=')", 15)
    page.route("**/charts/demo.png*", lambda route: route.abort())
    until(page, "document.querySelector('#chart-demo').classList.contains('failed')", 10)
    shown = src(page, "demo")
    assert "加载失败" in page.text_content("#chart-demo .problem")
    assert page.evaluate("document.querySelector('#chart-demo img.plot').naturalWidth") == 800  # 仍显示上一张
    page.unroute("**/charts/demo.png*")
    until(page, "!document.querySelector('#chart-demo').classList.contains('failed')", 10)
    assert src(page, "demo") != shown
    assert page.text_content("#chart-demo .problem") == ""


def test_credentials_errors_are_shown_not_swallowed(browser: Any, tmp_path: Any) -> None:
    """API 需要凭据时：浏览器弹出 Basic 登录框；输错（或取消）后页面显示清楚的 401 消息；输对则操作成功。

    无界面的 Chromium 不会弹框，而是把请求挂起等凭据：用上下文的 http_credentials 扮演用户在框里输入的内容。
    """
    from tests.conftest import start_server

    secured = start_server(tmp_path, env={"LIVECHART_API_USER": "ops", "LIVECHART_API_PASSWORD": "s3cret"})
    try:
        wrong = open_page(browser, secured, http_credentials={"username": "ops", "password": "wrong"})
        wrong.click("#chart-cpu [data-action=pause]")
        until(wrong, "document.querySelector('#chart-cpu .notice').textContent !== ''", 10)
        assert wrong.text_content("#chart-cpu .notice") == "需要 API 凭据（HTTP Basic）：没有提供凭据，或用户名、密码不对"
        assert secured.get("/api/charts/cpu").json()["paused"] is False
        wrong.context.close()

        signed_in = open_page(browser, secured, http_credentials={"username": "ops", "password": "s3cret"})
        signed_in.click("#chart-cpu [data-action=pause]")
        until(signed_in, "document.querySelector('#chart-cpu .badge').textContent === '已暂停'", 10)
        assert signed_in.text_content("#chart-cpu .notice") == ""
        signed_in.context.close()
    finally:
        secured.stop()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_light_dark_and_a_narrow_phone_screen(browser: Any, shared_server: Server, scheme: str) -> None:
    tab = open_page(browser, shared_server, viewport={"width": 375, "height": 740}, color_scheme=scheme, is_mobile=True)
    try:
        until(tab, "[...document.querySelectorAll('img.plot')].every(i => i.complete && i.naturalWidth > 0)", 30)
        # 不出现横向滚动；图片缩放到屏幕宽度以内
        assert tab.evaluate("document.documentElement.scrollWidth") <= 375
        assert tab.evaluate("document.querySelector('img.plot').getBoundingClientRect().right") <= 375
        background = tab.evaluate("getComputedStyle(document.body).backgroundColor")
        brightness = sum(int(v) for v in background[background.index("(") + 1 : background.index(")")].split(",")[:3])
        assert (brightness < 150) == (scheme == "dark"), background
        assert tab.console_errors == []
    finally:
        tab.context.close()


def test_the_page_runs_under_its_own_content_security_policy(page: Any) -> None:
    """CSP 保持生效（没有 bypass_csp）：页面自己的脚本和样式不触犯它——违规会以控制台错误报告。"""
    until(page, "document.querySelector('#chart-demo img.plot').dataset.src?.includes('?t=')", 15)
    page.click("#chart-demo [data-action=run]")
    until(page, "document.querySelector('#chart-demo .badge').textContent === '实时'", 10)
    assert page.console_errors == []


def test_a_chart_without_a_job_says_why_on_its_badge(browser: Any, tmp_path: Any) -> None:
    server = start_server(tmp_path)
    tab = open_page(browser, server)
    try:
        until(tab, "document.querySelector('#chart-demo .badge').textContent === '实时'", 10)
        assert requests.delete(server.url + "/scheduler/jobs/redraw-demo", json={}, timeout=10).status_code == 204
        until(tab, "document.querySelector('#chart-demo .badge').textContent === '没有任务'", 10)
        title = tab.get_attribute("#chart-demo .badge", "title")
        assert "redraw-demo" in title, title
        assert tab.text_content("#chart-demo .period") == "没有任务"
        assert tab.console_errors == []
    finally:
        tab.context.close()
        server.stop()


def test_changing_the_interval_fetches_nothing_before_the_next_run(browser: Any, tmp_path: Any) -> None:
    """改了间隔，任务下一次在一个新间隔之后才运行：在那之前页面不请求图片（demo 每小时一次，测试期间
    没有在画的一版，所以一次也不该有）。
    - 30 天超过浏览器 setInterval 的上限（2^31−1 毫秒）：不夹住的话它立即触发，页面不停地请求图片；
    - 新相位上比下一次运行早的节拍并不存在：页面不在那里取图。"""
    server = start_server(tmp_path, env={"LIVECHART_CONFIG": "tests.e2e_config:LongIntervalE2EConfig"})
    tab = open_page(browser, server)
    try:
        until_demo_is_current(tab, server)
        since = time.monotonic()
        tab.select_option("#chart-demo select.interval", "300")  # 页面自己改：PATCH 之后立即读状态
        until(tab, "document.querySelector('#chart-demo .period').textContent === '每 5 分钟刷新'", 10)
        tab.wait_for_timeout(3000)
        assert demo_requests(tab, since) == []
        since = time.monotonic()
        answer = server.patch("/scheduler/jobs/redraw-demo", json={"trigger": "interval", "days": 30})
        assert answer.status_code == 200, answer.text
        until(tab, "document.querySelector('#chart-demo .period').textContent === '每 30 天刷新'", 10)
        tab.wait_for_timeout(3000)
        assert demo_requests(tab, since) == []
        assert tab.console_errors == []
    finally:
        tab.context.close()
        server.stop()


def test_a_version_drawn_between_ticks_is_shown_at_once(browser: Any, tmp_path: Any) -> None:
    """别人用 REST 立即运行了一次（demo 每小时才重绘）：页面的定时器要一小时后才取图，状态轮询看到新的一版就取来，
    只取一次。以前页面一直显示旧图，直到下一个节拍。"""
    server = start_server(tmp_path, env={"LIVECHART_CONFIG": "tests.e2e_config:LongIntervalE2EConfig"})
    tab = open_page(browser, server)
    try:
        until_demo_is_current(tab, server)
        version = server.version("demo")
        since = time.monotonic()
        assert server.post("/scheduler/jobs/redraw-demo/run").status_code == 200
        assert server.version("demo") == version + 1
        until_demo_is_current(tab, server)
        tab.wait_for_timeout(2500)  # 再过一次状态轮询：不再取
        assert len(demo_requests(tab, since)) == 1, demo_requests(tab, since)
        assert tab.console_errors == []
    finally:
        tab.context.close()
        server.stop()


def test_the_first_version_after_an_interval_change_is_shown_when_drawn(browser: Any, tmp_path: Any) -> None:
    """“立即运行”之后马上在页面上把间隔改成 10 秒：页面取来那一版，新间隔上的第一版一画好就显示。
    以前页面把不在任何节拍上的那一版算作“画了将近 10 秒”，新间隔上的第一版晚一个间隔才显示。"""
    server = start_server(tmp_path, env={"LIVECHART_CONFIG": "tests.e2e_config:LongIntervalE2EConfig"})
    tab = open_page(browser, server)
    try:
        until_demo_is_current(tab, server)
        version = server.version("demo")
        assert server.post("/scheduler/jobs/redraw-demo/run").status_code == 200
        tab.select_option("#chart-demo select.interval", "10")
        until(tab, "document.querySelector('#chart-demo .period').textContent === '每 10 秒刷新'", 10)
        until_demo_is_current(tab, server)
        assert server.version("demo") == version + 1  # 新间隔上还没有运行（10 秒之后才第一次）
        shown = "(() => { const d = document.querySelector('#chart-demo .plot').dataset; return [Number(d.version), Number(d.renderedAt), Date.now()]; })()"
        wait_for(lambda: tab.evaluate(shown)[0] > version + 1, 30, "the first version on the new interval was never shown",
                 step=0.05)  # fmt: skip
        _, rendered_at, seen_at = tab.evaluate(shown)
        # 画好之后很快显示（页面在节拍上取，没画好就再问）；以前晚一整个间隔（约 10 秒）
        assert seen_at - rendered_at < 5000, seen_at - rendered_at
        assert tab.console_errors == []
    finally:
        tab.context.close()
        server.stop()


def test_data_warnings_show_on_the_badge(browser: Any, tmp_path: Any) -> None:
    """一行来自未来的数据被丢弃：图照常更新，徽章显示“数据异常”，悬停看说明。"""
    server = start_server(tmp_path, env={"LIVECHART_CONFIG": "tests.e2e_config:FutureRowE2EConfig"})
    tab = open_page(browser, server)
    try:
        until(tab, "document.querySelector('#chart-future .badge').textContent === '数据异常'", 15)
        assert tab.get_attribute("#chart-future .badge", "title").startswith(
            "丢弃了 1 行时间比服务器时钟晚 5 分钟以上的数据（最晚的一行：2099-01-01T00:00:00）"
        )
        assert tab.console_errors == []
    finally:
        tab.context.close()
        server.stop()


def test_a_failing_draw_function_shows_its_error_over_the_last_image(browser: Any, tmp_path: Any) -> None:
    """绘图函数出错：页面上直接显示异常的类型与消息（不用悬停），图片仍是上一张；恢复后错误消失。"""
    switch = tmp_path / "break"
    server = start_server(tmp_path, env={"LIVECHART_CONFIG": "tests.e2e_config:DrawErrorE2EConfig",
                                         "LIVECHART_TEST_BREAK": str(switch)})  # fmt: skip
    tab = open_page(browser, server)
    try:
        until(tab, "document.querySelector('#chart-fragile .plot').naturalWidth > 0", 15)
        switch.touch()
        until(tab, "!document.querySelector('#chart-fragile .error-text').hidden", 15)
        text = tab.text_content("#chart-fragile .error-text")
        assert "ZeroDivisionError: division by zero in the test function" in text, text
        assert tab.text_content("#chart-fragile .badge") == "错误"
        assert tab.evaluate("document.querySelector('#chart-fragile .plot').naturalWidth") == 800
        tab.locator("#chart-fragile").screenshot(path=str(tmp_path / "fragile.png"))
        switch.unlink()
        until(tab, "document.querySelector('#chart-fragile .error-text').hidden", 15)
        assert tab.console_errors == []
    finally:
        tab.context.close()
        server.stop()


def record_images(tab: Any) -> list[dict[str, Any]]:
    """记录标签页收到的每个图片响应：地址、状态码、版本与画好的时刻。"""
    seen: list[dict[str, Any]] = []

    def on_response(response: Any) -> None:
        if ".png" in response.url:
            headers = response.headers
            seen.append({"url": response.url, "status": response.status, "version": headers.get("x-livechart-version"),
                         "rendered_at": headers.get("x-livechart-rendered-at")})  # fmt: skip

    tab.on("response", on_response)
    return seen


def test_a_version_is_downloaded_once_and_an_unchanged_image_answers_304(browser: Any, tmp_path: Any) -> None:
    """页面只下载新的一版：图没变（绘图函数一直出错，任务照常运行）时每次询问都是 304，不再下载同一张图。
    以前的页面每个间隔都整张下载一次。"""
    switch = tmp_path / "break"
    server = start_server(tmp_path, env={"LIVECHART_CONFIG": "tests.e2e_config:DrawErrorE2EConfig",
                                         "LIVECHART_TEST_BREAK": str(switch)})  # fmt: skip
    tab = open_page(browser, server)
    seen = record_images(tab)
    try:
        until(tab, "document.querySelector('#chart-fragile .plot').naturalWidth > 0", 15)
        switch.touch()
        until(tab, "!document.querySelector('#chart-fragile .error-text').hidden", 15)
        shown = tab.evaluate("document.querySelector('#chart-fragile .plot').dataset.version")
        seen.clear()
        tab.wait_for_timeout(4000)  # 任务每秒运行一次（每次都失败）：页面照常按节拍询问
        fragile = [r for r in seen if "/charts/fragile" in r["url"]]
        assert fragile and all(r["status"] == 304 for r in fragile), fragile
        # 出错的图表不再在节拍之间一遍遍地问（每个节拍一次，4 个节拍）
        assert len(fragile) <= 7, len(fragile)
        assert tab.evaluate("document.querySelector('#chart-fragile .plot').dataset.version") == shown
        # 正常重绘的图表：每个版本只下载一次
        downloaded = [r["version"] for r in seen if "/charts/demo" in r["url"] and r["status"] == 200]
        assert len(downloaded) >= 2 and len(set(downloaded)) == len(downloaded), downloaded
        assert tab.console_errors == []
    finally:
        tab.context.close()
        server.stop()


def test_updated_at_describes_the_displayed_image(page: Any) -> None:
    """“更新于”是显示着的这张图画好的时刻，不是状态轮询里的（状态可能已经是下一版）。"""
    until(page, "document.querySelector('#chart-demo .plot').dataset.renderedAt", 15)
    for _ in range(15):
        shown, text = page.evaluate(
            """() => {
                const img = document.querySelector('#chart-demo .plot');
                const at = new Date(Number(img.dataset.renderedAt)).toLocaleTimeString('zh-CN', { hour12: false });
                return [at, document.querySelector('#chart-demo .updated').textContent];
            }"""
        )
        assert text.startswith(f"更新于 {shown}（"), (shown, text)
        page.wait_for_timeout(270)


def test_the_page_asks_for_each_version_at_its_tick(page: Any, shared_server: Server) -> None:
    """对准重绘的机制：取一版的请求的 t 是这一版的节拍（任务的 next_run 的相位，整数倍间隔），
    这一版就画于那个节拍之后、下一个节拍之前；同一版的几次询问是同一个地址。以前的 t 是请求时的本机时间。"""
    until(page, "document.querySelector('#chart-demo .plot').dataset.version", 15)
    status = shared_server.get("/api/charts/demo").json()
    interval_ms = round(status["interval"] * 1000)
    tick_ms = datetime.fromisoformat(status["next_run"]).timestamp() * 1000
    shown: dict[int, int] = {}
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline and len(shown) < 5:
        rendered_at, url = page.evaluate("(() => { const d = document.querySelector('#chart-demo .plot').dataset;"
                                         " return [Number(d.renderedAt), d.src]; })()")  # fmt: skip
        shown[rendered_at] = int(url.split("?t=")[1])
        page.wait_for_timeout(50)
    assert len(shown) >= 3, shown
    on_tick = [
        # 忙的机器上一版可能比它的节拍晚将近一个间隔才画好：只要求在节拍之后、两个间隔之内
        abs((t - tick_ms + interval_ms / 2) % interval_ms - interval_ms / 2) <= 1 and 0 <= rendered_at - t < 2 * interval_ms
        for rendered_at, t in list(shown.items())[1:]  # 第一版是打开页面时取的（还不知道节拍）
    ]
    assert all(on_tick), (tick_ms, shown)


@pytest.mark.parametrize(
    ("options", "path", "size"),
    [
        ({"device_scale_factor": 2}, "/charts/demo@2x.png", (1600, 800)),
        ({"color_scheme": "dark"}, "/charts/demo.dark.png", (800, 400)),
        ({"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True},
         "/charts/demo.narrow@2x.png", (800, 500)),
    ],
    ids=["retina", "dark", "phone"],
)  # fmt: skip
def test_the_page_picks_the_variant_its_screen_needs(browser: Any, shared_server: Server, options: Any, path: str,
                                                      size: tuple[int, int]) -> None:  # fmt: skip
    """高分屏取 2×，暗色取暗色图（没有白块），手机取窄版式：各有自己的路径。"""
    tab = open_page(browser, shared_server, **options)
    try:
        until(tab, "document.querySelector('#chart-demo .plot').dataset.version", 30)
        assert tab.evaluate("document.querySelector('#chart-demo .plot').dataset.src").startswith(path + "?t=")
        natural = tab.evaluate(
            "(() => { const i = document.querySelector('#chart-demo .plot'); return [i.naturalWidth, i.naturalHeight]; })()"
        )
        assert tuple(natural) == size
        corner = tab.evaluate(
            """(() => { const img = document.querySelector('#chart-demo .plot');
                const canvas = document.createElement('canvas'); canvas.width = 4; canvas.height = 4;
                const ctx = canvas.getContext('2d'); ctx.drawImage(img, 0, 0);
                return [...ctx.getImageData(1, 1, 1, 1).data].slice(0, 3).reduce((a, b) => a + b, 0); })()"""
        )
        assert (corner < 150) == ("dark" in path), corner
        assert tab.console_errors == []
    finally:
        tab.context.close()


def test_the_title_is_shown_once(browser: Any, tmp_path: Any) -> None:
    """内置类型把标题画在图里，卡片上的标题只给读屏软件；draw 图表的标题由页面显示。"""
    server = start_server(tmp_path, env={"LIVECHART_CONFIG": "tests.e2e_config:DrawErrorE2EConfig"})
    tab = open_page(browser, server)
    try:
        until(tab, "document.querySelector('#chart-fragile .plot').dataset.version", 15)
        assert tab.locator("#chart-demo h2").bounding_box()["width"] <= 1
        assert tab.locator("#chart-fragile h2").bounding_box()["width"] > 20
        assert tab.text_content("#chart-demo h2")  # 仍在页面里（读屏软件、搜索）
    finally:
        tab.context.close()
        server.stop()


def test_a_browser_clock_an_hour_off_does_not_stop_the_refresh(browser: Any, shared_server: Server) -> None:
    """浏览器的时钟比服务器慢一小时：节拍只按相位对准，新的版本照样一版一版地显示。"""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script("(() => { const now = Date.now.bind(Date); Date.now = () => now() - 3600 * 1000; })()")
    tab = context.new_page()
    delayed: list[Any] = []
    # 第一次状态回答晚到：第一张图显示出来时页面还不知道时钟差（评审时一个图表因此一小时不刷新）
    tab.route("**/api/charts", lambda route: delayed.append(route))
    try:
        tab.goto(shared_server.url + "/")
        until(tab, "document.querySelector('#chart-demo .plot').dataset.version", 15)
        for route in delayed:
            route.continue_()
        tab.unroute("**/api/charts")
        first = int(tab.evaluate("document.querySelector('#chart-demo .plot').dataset.version"))
        wait_for(lambda: int(tab.evaluate("document.querySelector('#chart-demo .plot').dataset.version")) >= first + 4, 10,
                 "the page stopped showing new versions")  # fmt: skip
    finally:
        context.close()
