"""README 用的截图：启动真实服务，用 Debian 的 Chromium 截取页面（make screenshot）：亮色、暗色、手机。"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.chromium import CHROMIUM
from tests.chromium import CHROMIUM_ARGS
from tests.conftest import ROOT
from tests.conftest import start_server
from tests.test_page import until

STATIC = ROOT / "static"
# 文件名 → (视口, 设备像素比, 配色)
SHOTS = {
    "screenshot.png": ({"width": 1280, "height": 520}, 1, "light"),
    "screenshot-dark.png": ({"width": 1280, "height": 520}, 1, "dark"),
    "screenshot-phone.png": ({"width": 390, "height": 844}, 2, "light"),
}


def main() -> int:
    """截图并写入 static/ 下的三个文件。"""
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                pages = {}
                for name, (viewport, scale, scheme) in SHOTS.items():
                    page = browser.new_page(viewport=viewport, device_scale_factor=scale, color_scheme=scheme)
                    page.goto(server.url + "/")
                    pages[name] = page
                for page in pages.values():
                    # 等每张图都显示出来、“更新于”出现
                    until(page, "[...document.querySelectorAll('img.plot')].every(i => i.dataset.version)", 30)
                    until(page, "[...document.querySelectorAll('.updated')].every(e => e.textContent.includes('更新于'))", 30)
                # 让本机 CPU 图积累一些数据点
                next(iter(pages.values())).wait_for_timeout(20000)
                for name, page in pages.items():
                    (STATIC / name).write_bytes(page.screenshot(full_page=True))
                    print(f"wrote static/{name}")
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
