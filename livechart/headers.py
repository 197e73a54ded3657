"""每个响应的安全头：nosniff、页面的内容安全策略（CSP）、禁止被嵌入框架；图片的跨源资源策略可配置。"""

from __future__ import annotations

from flask import Flask
from flask import Response
from flask import current_app

# 页面只从本站加载脚本、样式、图片与数据；不允许内联脚本，不允许被别的站点嵌入
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# 其他响应（JSON、PNG、文本）不是文档，什么都不需要加载
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"
CORP_VALUES = ("same-origin", "same-site", "cross-origin")


def secure(response: Response) -> Response:
    """给响应加上安全头；去掉应用自己加的 Date。

    Werkzeug 的 make_conditional 会加一个 Date，而 HTTP 服务器（Werkzeug 开发服务器、gunicorn）总会再写
    自己的 Date：响应里就有两个 Date。快速路径复用的现成响应里那个还是生成时的旧时间。Date 交给服务器。
    """
    headers = response.headers
    headers.pop("Date", None)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", PAGE_POLICY if response.mimetype == "text/html" else OTHER_POLICY)
    if response.mimetype == "image/png":
        # 要在别的网站里用 <img> 嵌入图表时设为 cross-origin
        headers.setdefault("Cross-Origin-Resource-Policy", current_app.config["LIVECHART_IMAGE_CORP"])
    return response


def init_app(app: Flask) -> None:
    """注册（LIVECHART_IMAGE_CORP 由 livechart/settings.py 校验）。"""
    app.after_request(secure)
