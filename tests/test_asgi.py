"""make run-prod 的 ASGI 层（livechart/asgi.py）：真实的 app 与 Redis，直接按 ASGI 调用。

图片在事件循环里回答，与 Flask 的响应相同，不用线程；其余请求先读完请求体再进线程，超过上限得到 413。
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any

import pytest

from livechart.asgi import BufferedApp
from tests.test_fastpath import CREDENTIALS

# 夹具：真实的 Redis 与跟随线程
from tests.test_fastpath import live_app  # noqa: F401

AUTH = (
    "Basic " + base64.b64encode(f"{CREDENTIALS['LIVECHART_API_USER']}:{CREDENTIALS['LIVECHART_API_PASSWORD']}".encode()).decode()
)


@pytest.fixture
def asgi(live_app: Any) -> Iterator[BufferedApp]:  # noqa: F811
    app = BufferedApp(live_app, threads=2)
    yield app
    app.threads.executor.shutdown(wait=True)


def call(app: BufferedApp, method: str, path: str, headers: dict[str, str] | None = None,
         chunks: Sequence[bytes] | None = (b"",)) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    """按 ASGI 调用一次；请求体按 chunks 分几条消息送达（None：请求体不许读）。返回 (状态, 小写的响应头, 响应体)。"""
    pending = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks or ())]
    readable = chunks is not None
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        assert readable, "the body was read"
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return start["status"], {name.decode().lower(): value.decode() for name, value in start["headers"]}, body


def flask(live_app: Any, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:  # noqa: F811
    """同一个请求经过 Flask 视图（关掉快速路径）。"""
    live_app.config["LIVECHART_FAST_PATH"] = False
    try:
        response = live_app.test_client().open(path, method=method, headers=headers or {})
    finally:
        live_app.config["LIVECHART_FAST_PATH"] = True
    return response.status_code, {name.lower(): value for name, value in response.headers.items()}, response.data


def test_images_are_answered_on_the_event_loop_like_flask_without_a_thread(asgi: BufferedApp, live_app: Any) -> None:  # noqa: F811
    seen = live_app.config["SEEN_BY_FLASK"]
    assert call(asgi, "GET", "/charts/demo.png")[0] == 200  # 第一次在线程里生成这一版的现成响应
    asgi.threads.executor.shutdown(wait=True)  # 之后任何要线程的请求都会失败
    seen.clear()
    fast = call(asgi, "GET", "/charts/demo.png")
    assert seen == []
    assert fast == flask(live_app, "GET", "/charts/demo.png") and fast[0] == 200
    etag = fast[1]["etag"]
    not_modified = call(asgi, "GET", "/charts/demo.png", {"If-None-Match": etag})
    assert not_modified[0] == 304 and not_modified == flask(live_app, "GET", "/charts/demo.png", {"If-None-Match": etag})
    head = call(asgi, "HEAD", "/charts/demo.png")
    assert head[0] == 200 and head[2] == b"" and head[1] == fast[1]
    seen.clear()
    # 快速路径不回答的（Range）要进线程：线程池已关，所以这里会失败，证明上面的请求确实没用线程
    with pytest.raises(RuntimeError):
        call(asgi, "GET", "/charts/demo.png", {"Range": "bytes=0-9"})


def test_bodies_are_read_first_chunked_bodies_work_and_oversize_gets_413(asgi: BufferedApp) -> None:
    json = {"Content-Type": "application/json", "Authorization": AUTH}
    # 分三条消息、没有 Content-Length（如同 chunked）：Flask 看到完整的请求体
    status, _, body = call(asgi, "POST", "/scheduler/jobs/redraw-demo/pause", json, [b"{", b"  ", b"}"])
    assert status == 200 and b'"next_run_time": null' in body
    big = b'{"id": "' + b"x" * 70_000 + b'"}'
    status, headers, body = call(asgi, "POST", "/scheduler/jobs", json, [big[:30_000], big[30_000:]])
    assert status == 413 and headers["content-type"] == "application/json" and b"request_entity_too_large" in body
    # 声明的长度已超过上限：一个字节也不读（receive 若被调用就会失败）
    declared = {**json, "Content-Length": "1000000"}
    status, _, body = call(asgi, "POST", "/scheduler/jobs", declared, None)
    assert status == 413 and b"request_entity_too_large" in body
    # 未认证：401，请求体不交给视图
    status, _, _ = call(asgi, "POST", "/scheduler/jobs", {"Content-Type": "application/json"}, [b"{}"])
    assert status == 401
