"""对照组：最简的 Flask 路由，返回与 livechart 相同的 PNG 字节（启动时从 BARE_SOURCE_URL 取一次，放在内存里）。"""

import os

import requests
from flask import Flask
from flask import Response

PNG = requests.get(os.environ["BARE_SOURCE_URL"], timeout=10).content
app = Flask(__name__)


@app.get("/charts/<name>.png")
def chart_png(name: str) -> Response:
    """同样的字节，没有缓存读取、ETag、指标或安全头。"""
    return Response(PNG, mimetype="image/png")
