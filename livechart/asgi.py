"""make run-prod 的工作进程：慢客户端占不住线程（docs/pitfalls.md 第 21、26 条）。

gunicorn 的 gthread 在连接还在发请求头时就交给一个线程，24 个慢连接就能让整个服务不再回答。这里用
gunicorn 自带的 asyncio 工作进程（worker_class "asgi"）：请求头在事件循环里解析，请求体也在事件循环里
读完（最多 MAX_CONTENT_LENGTH），之后才交给线程池里的 Flask（a2wsgi）。慢连接只占一个协程和几十 KB 内存。

- 图片的快速路径（livechart/fastpath.py）在事件循环里直接回答：现成响应在内存里，不进线程、不进 Flask；
  其余情况（没有现成响应、副本不是 live、Range、只带 If-Modified-Since）照旧经过线程里的中间件和 Flask。
- a2wsgi 在线程里按需向事件循环要请求体，不会先读完；所以这里先读完再交给它（docs/pitfalls.md 第 28 条）。
- 读完的请求体总是带准确的 Content-Length：分块传输（chunked）的请求，a2wsgi 不设 wsgi.input_terminated，
  Werkzeug 会把它当成空的请求体。超过上限时只交给 Flask 上限 + 1 个字节，由 Flask 回答 413 JSON；
  声明的 Content-Length 已经超过上限时一个字节也不读。
- 应用仍是 livechart.wsgi:app（Flask）；这个工作进程类在加载之后把它包起来，所以 gunicorn 的命令不变。
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

from a2wsgi import WSGIMiddleware
from flask import Flask
from gunicorn.workers.gasgi import ASGIWorker

from livechart.fastpath import ImageFastPath

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# 快速路径要看的请求头 → WSGI environ 的键
_FAST_HEADERS = {b"range": "HTTP_RANGE", b"if-none-match": "HTTP_IF_NONE_MATCH", b"if-modified-since": "HTTP_IF_MODIFIED_SINCE"}
# 请求体读完后由这一层重写的请求头
_FRAMING = (b"content-length", b"transfer-encoding")


class BufferedApp:
    """ASGI 应用：快速路径在事件循环里回答，其余请求读完请求体后交给线程里的 Flask。"""

    def __init__(self, app: Flask, threads: int) -> None:
        self.flask = app
        self.limit: int | None = app.config.get("MAX_CONTENT_LENGTH")
        # a2wsgi 的类型标注比 Flask 的 WSGI 签名更窄（Environ、ASGI 事件的 TypedDict）：这里传的都是它要的东西
        self.threads: Any = WSGIMiddleware(app, workers=threads)  # type: ignore[arg-type]
        fast = app.wsgi_app
        self.fast = fast if isinstance(fast, ImageFastPath) else None

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # lifespan：a2wsgi 回答启动与停止
            await self.threads(scope, receive, send)
            return
        if self.fast is not None and scope["method"] in ("GET", "HEAD") and await self._answer_fast(scope, send):
            return
        body = await self._read_body(scope, receive)
        if body is None:  # 客户端在发完之前断开
            return
        headers = [(name, value) for name, value in scope["headers"] if name not in _FRAMING]
        declared = _content_length(scope)
        if declared is not None and self.limit is not None and declared > self.limit:
            # 不读请求体：保留声明的长度，Flask 据此回答 413（未认证的请求先得到 401）
            headers.append((b"content-length", str(declared).encode()))
        else:
            headers.append((b"content-length", str(len(body)).encode()))
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.threads({**scope, "headers": headers}, replay, send)

    async def _answer_fast(self, scope: Message, send: Send) -> bool:
        """快速路径有现成响应时直接发出并返回 True。"""
        environ = {"REQUEST_METHOD": scope["method"], "PATH_INFO": scope["path"]}
        for name, value in scope["headers"]:
            if name in _FAST_HEADERS:
                environ[_FAST_HEADERS[name]] = value.decode("latin1")
        assert self.fast is not None  # 调用方已经检查过
        answered = self.fast.answer(environ)
        if answered is None:
            return False
        status, headers, body = answered
        await send(
            {
                "type": "http.response.start",
                "status": int(status.split(" ", 1)[0]),
                "headers": [(name.lower().encode("latin1"), value.encode("latin1")) for name, value in headers],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True

    async def _read_body(self, scope: Message, receive: Receive) -> bytes | None:
        """在事件循环里读完请求体，最多上限 + 1 个字节；声明的长度超过上限时不读。客户端断开时为 None。"""
        declared = _content_length(scope)
        if declared is not None and self.limit is not None and declared > self.limit:
            return b""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if self.limit is not None and size > self.limit:
                return b"".join(chunks)[: self.limit + 1]
            if not message.get("more_body"):
                return b"".join(chunks)


def _content_length(scope: Message) -> int | None:
    """请求声明的 Content-Length（gunicorn 已拒绝格式错误的值）；没有时为 None。"""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value)
    return None


class Worker(ASGIWorker):
    """gunicorn 的 asyncio 工作进程，加载 Flask 应用后用 BufferedApp 包起来。

    每个进程的线程数来自 gunicorn 的 threads 设置（LIVECHART_THREADS）：这里是 Flask 的线程池大小。
    worker.wsgi 仍指向 Flask 应用（gunicorn_config.worker_exit 用它关闭任务与渲染进程）。
    """

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        """不打印 ASGIWorker 的“不使用 threads 设置”警告：这里用它。"""

    def load_wsgi(self) -> None:
        """加载 livechart.wsgi:app，包成 ASGI 应用。"""
        super().load_wsgi()
        flask_app: Flask = self.asgi  # type: ignore[has-type]  # gunicorn 没有类型标注
        self.wsgi = flask_app
        self.asgi = BufferedApp(flask_app, self.cfg.threads)
