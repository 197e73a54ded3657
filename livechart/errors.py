"""JSON 错误响应：API 路由的唯一错误格式；内部错误从不回显异常文本或堆栈。"""

from __future__ import annotations

from flask import Flask
from flask import Response
from flask import current_app
from flask import jsonify
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError

from livechart.store import Full
from livechart.store import Unavailable
from livechart.store import is_full_error


def json_error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """构造 {"error": 代码, "message": 说明} 形式的错误响应。"""
    response = jsonify(error=error, message=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _code(exc: HTTPException) -> str:
    """HTTP 异常 → 机器可读的错误代码，如 not_found。"""
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def _http_error(exc: HTTPException) -> Response:
    """所有 HTTP 错误都以 JSON 返回。"""
    response = json_error(exc.code or 500, _code(exc), exc.description or exc.name)
    for name in ("WWW-Authenticate", "Allow", "Retry-After"):
        if exc.get_headers() and (value := dict(exc.get_headers()).get(name)):
            response.headers[name] = value
    return response


def _internal_error(exc: Exception) -> Response:
    """未处理的异常：堆栈只写日志，客户端只看到通用消息。"""
    original = getattr(exc, "original_exception", None) or exc
    if not isinstance(original, InternalServerError):
        current_app.logger.error("未处理的异常", exc_info=original)
    return json_error(500, "internal_server_error", "internal error; see the server log")


def _cache_unavailable(exc: Exception) -> Response:
    """缓存（Redis）不可用或满了：503，请稍后重试。"""
    if isinstance(exc, Full) or is_full_error(exc):
        return json_error(
            503,
            "unavailable",
            "the cache (Redis) is full (maxmemory) and refuses writes; nothing new was stored",
            {"Retry-After": "1"},
        )
    return json_error(503, "unavailable", "the cache (Redis) is unavailable; retry shortly", {"Retry-After": "1"})


def init_app(app: Flask) -> None:
    """注册错误处理器。"""
    app.register_error_handler(Unavailable, _cache_unavailable)
    # Flask-Caching 不吞掉 Redis 的错误（docs/pitfalls.md 第 8 条）：直接用 Redis 的地方（协调）也是 503
    app.register_error_handler(RedisError, _cache_unavailable)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(Exception, _internal_error)
