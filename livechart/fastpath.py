"""图片的快速路径：WSGI 中间件，在 Flask 之前回答 GET/HEAD /plot.png 与 /charts/<name>.png。

多进程模式下，跟随线程让本进程的图片副本与 Redis 保持一致（coordination.live）。这时一个图片请求要做的
只剩：按路径找到图表，比较 If-None-Match，发出预先做好的响应。每个版本的 200 与 304 响应都由真正的
Flask 视图生成一次（同样的安全头、ETag、Cache-Control、after_request 钩子），之后原样复用；
于是快速路径的响应与 Flask 路径逐字节相同（tests/test_fastpath.py 检查），而每个请求省掉 Flask 的
请求上下文、路由与钩子。bench/README.md 记录了测量：没有它时每个图片请求的 CPU 是最简 Flask 路由的
数倍。

LIVECHART_FAST_PATH = False 关闭它（测量与排查用）。以下情况一律交给 Flask（慢路径，行为不变）：副本不是 live（单进程的 SimpleCache、Redis 断开）、
本进程还没有这张图、请求带 Range 或 If-Match、方法不是 GET/HEAD、路径不是图片。
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.http import parse_etags
from werkzeug.test import EnvironBuilder

from livechart import coordination
from livechart import jobs
from livechart import metrics
from livechart import store
from livechart import variant_redraw
from livechart import variants
from livechart.views import PREBUILD
from livechart.views import unmodified_since

EXTENSION = "livechart.fastpath"

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Prebuilt:
    """一个图表一个版本的现成响应。"""

    etag: str
    rendered_at: float
    ok_status: str
    ok_headers: list[tuple[str, str]]
    body: bytes
    not_modified_status: str
    not_modified_headers: list[tuple[str, str]]
    count_ok: Callable[[], None]
    count_not_modified: Callable[[], None]


class ImageFastPath:
    """包在 app.wsgi_app 外面的中间件。"""

    def __init__(self, app: Flask, wsgi_app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.next = wsgi_app
        self.paths: dict[str, tuple[str, variants.Variant]] = {}
        self.prebuilt: dict[str, Prebuilt] = {}
        self.refresh()

    def refresh(self) -> None:
        """按现在的图表重建路径表（启动时、重新载入配置之后）；现成的响应都作废（/plot.png 可能换了图表）。
        路径 → (图表, 变体)：每个图表的每个变体（livechart/variants.py）都有自己的路径。"""
        redrawers = jobs.redrawers(self.app)
        paths = {
            f"/charts/{variants.image_id(name, variant)}.png": (name, variants.normalized(variant, redrawer.spec.theme))
            for name, redrawer in redrawers.items()
            for variant in variants.every()
        }
        paths["/plot.png"] = (next(iter(redrawers)), variants.DEFAULT)
        self.paths, self.prebuilt = paths, {}

    def answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """不经过 Flask 就能回答时返回 (状态, 响应头, 响应体)，否则 None（交给 __call__ / Flask）。

        只读内存：不调用 Flask，不访问 Redis，可以在事件循环里直接调用。
        """
        path = environ.get("PATH_INFO", "")
        target = self.paths.get(path)
        method = environ.get("REQUEST_METHOD")
        if (
            target is None
            or method not in ("GET", "HEAD")
            or "HTTP_RANGE" in environ
            or PREBUILD in environ
            or not self.app.config["LIVECHART_FAST_PATH"]
            or not coordination.get(self.app).live.is_set()
        ):
            return None
        chart, variant = target
        variant_redraw.demand(self.app).note(chart, variant)
        image = store.last_known(variants.image_id(chart, variant), self.app)
        entry = self.prebuilt.get(path)
        if image is None or entry is None or entry.etag != image.etag:
            return None
        if not variant.default and not variant_redraw.current(image, store.last_known(chart, self.app)):
            return None  # 变体跟不上默认图（没人要时不再重绘）：交给 Flask 重画一次
        if "HTTP_IF_MATCH" in environ:  # 412 / 200 的判断交给 Flask
            return None
        # 与 Flask 视图（werkzeug 的 make_conditional）相同：有可解析的 If-None-Match 时只看 ETag，
        # 否则 If-Modified-Since 只在能证明这一版没变时回答 304（views.unmodified_since）
        etags = parse_etags(environ.get("HTTP_IF_NONE_MATCH"))
        if (
            etags.contains_weak(entry.etag)
            if etags
            else unmodified_since(environ.get("HTTP_IF_MODIFIED_SINCE"), entry.rendered_at)
        ):
            entry.count_not_modified()
            return entry.not_modified_status, list(entry.not_modified_headers), b""
        entry.count_ok()
        return entry.ok_status, list(entry.ok_headers), b"" if method == "HEAD" else entry.body

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        answered = self.answer(environ)
        if answered is None and self._prebuild(environ):
            answered = self.answer(environ)
        if answered is None:
            return self.next(environ, start_response)
        status, headers, body = answered
        start_response(status, headers)
        return [body] if body else []

    def _prebuild(self, environ: dict[str, Any]) -> bool:
        """快速路径可用、只缺这一版的现成响应时生成它；生成了返回 True。"""
        path = environ.get("PATH_INFO", "")
        target = self.paths.get(path)
        if (
            target is None
            or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or "HTTP_RANGE" in environ
            or PREBUILD in environ
            or not self.app.config["LIVECHART_FAST_PATH"]
            or not coordination.get(self.app).live.is_set()
        ):
            return False
        chart, variant = target
        image = store.last_known(variants.image_id(chart, variant), self.app)
        if image is None:
            return False
        entry = self.prebuilt.get(path)
        if entry is not None and entry.etag == image.etag:
            return False
        return self._build(path, chart, image) is not None

    def _run(self, path: str, headers: dict[str, str]) -> tuple[str, list[tuple[str, str]], bytes]:
        """经过完整的 Flask 处理得到一个响应（不计入请求指标）。"""
        environ = EnvironBuilder(path=path, headers=list(headers.items())).get_environ()
        environ[PREBUILD] = True
        captured: dict[str, Any] = {}

        def capture(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured.update(status=status, headers=response_headers)

        chunks = self.next(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return captured["status"], captured["headers"], body

    def _build(self, path: str, chart: str, image: store.ChartImage) -> Prebuilt | None:
        """为当前版本生成 200 与 304 响应；生成的不是这个 ETag（刚好换了一版）时为 None。"""
        etag = image.etag
        ok_status, ok_headers, body = self._run(path, {})
        if not ok_status.startswith("200") or dict(ok_headers).get("ETag") != f'"{etag}"':
            return None
        nm_status, nm_headers, _ = self._run(path, {"If-None-Match": f'"{etag}"'})
        if not nm_status.startswith("304"):
            return None
        counter = metrics.get(self.app).image_requests
        entry = Prebuilt(
            etag=etag,
            rendered_at=image.rendered_at,
            ok_status=ok_status,
            ok_headers=ok_headers,
            body=body,
            not_modified_status=nm_status,
            not_modified_headers=nm_headers,
            count_ok=counter.labels(chart, "200").inc,
            count_not_modified=counter.labels(chart, "304").inc,
        )
        self.prebuilt[path] = entry
        return entry


def init_app(app: Flask) -> None:
    """把中间件装在 app.wsgi_app 外面（在 jobs.init_app 之后：需要图表列表）。"""
    app.wsgi_app = app.extensions[EXTENSION] = ImageFastPath(app, app.wsgi_app)  # type: ignore[method-assign]


def refresh(app: Flask) -> None:
    """图表变了（重新载入配置）：重建路径表。"""
    app.extensions[EXTENSION].refresh()
