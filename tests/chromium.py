"""Debian 的 Chromium 与启动参数：页面测试（tests/test_page.py）、README 截图（tests/screenshot.py）与
显示时延的测量（bench/display.py）都用这一份。不导入 pytest 与 Playwright，bench 也能直接导入。"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
# 本机网络是封闭的：关掉 Chromium 的后台联网（更新、同步、默认应用、指标上报），否则会不断尝试连接外部主机
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--metrics-recording-only",
]
