"""README 用的截图：启动真实服务，用 Debian 的 Chromium 截取页面（make screenshot）。"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.conftest import ROOT
from tests.conftest import start_server
from tests.test_page import CHROMIUM
from tests.test_page import CHROMIUM_ARGS
from tests.test_page import until

TARGET = ROOT / "static" / "screenshot.png"


def main() -> int:
    """截图并写入 static/screenshot.png。"""
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 460})
                page.goto(server.url + "/")
                # 等两张图都刷新过一次、“更新于”出现
                until(page, "[...document.querySelectorAll('img.plot')].every(i => i.src.includes('?t='))", 30)
                until(page, "[...document.querySelectorAll('.updated')].every(e => e.textContent.includes('更新于'))", 30)
                # 让本机 CPU 图积累一些数据点
                page.wait_for_timeout(20000)
                TARGET.write_bytes(page.screenshot(full_page=True))
                browser.close()
        finally:
            server.stop()
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
