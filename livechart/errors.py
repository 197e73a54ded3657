"""JSON 错误响应：API 路由的唯一错误格式；内部错误从不回显异常文本或堆栈。

message 是给人看的中文；error 是给程序用的英文代码（not_found、bad_request……），不变。
Werkzeug 自带的英文默认说明换成 DEFAULT_MESSAGES 里的中文；livechart 自己写的说明原样返回。
"""

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

# 内部错误（500）的通用消息：异常与堆栈只写日志
INTERNAL_MESSAGE = "服务器内部错误，详情见服务器日志"
# Werkzeug 各个 HTTP 异常的默认说明（英文）换成的中文消息，按状态码
DEFAULT_MESSAGES = {
    400: "请求不合法，服务器无法理解",
    401: "需要凭据才能访问这个 URL",
    403: "没有访问这个资源的权限",
    404: "服务器上没有这个 URL；如果是手动输入的，请检查拼写",
    405: "这个 URL 不接受该请求方法（可用的方法见响应的 Allow 头）",
    406: "无法按请求的 Accept 头给出内容",
    408: "请求没有在限定时间内发完，服务器关闭了连接",
    409: "处理请求时发生冲突：资源可能刚被修改过",
    410: "这个 URL 已不再提供",
    411: "这种请求方法需要合法的 Content-Length 头",
    412: "请求的前提条件不成立",
    413: "请求体超过了大小上限",
    414: "URL 太长，服务器无法处理",
    415: "服务器不支持请求使用的媒体类型",
    416: "无法提供请求的范围",
    417: "服务器无法满足 Expect 头的要求",
    418: "服务器是茶壶，不是咖啡机",
    421: "服务器无法为这个请求给出响应",
    422: "请求格式正确，但内容有语义错误，无法处理",
    423: "要访问的资源已被锁定",
    424: "依赖的另一个操作失败了，这个操作无法执行",
    428: "这个请求必须是条件请求（带 If-Match 或 If-Unmodified-Since）",
    429: "请求太多，请稍后再试",
    431: "请求头太大",
    451: "因法律原因无法提供",
    500: INTERNAL_MESSAGE,
    501: "服务器不支持请求的操作",
    502: "代理服务器从上游服务器收到了无效的响应",
    503: "服务暂时不可用，请稍后再试",
    504: "连接上游服务器超时",
    505: "服务器不支持请求使用的 HTTP 版本",
}


def json_error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """构造 {"error": 代码, "message": 说明} 形式的错误响应。"""
    response = jsonify(error=error, message=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _code(exc: HTTPException) -> str:
    """HTTP 异常 → 机器可读的错误代码，如 not_found。"""
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def _message(exc: HTTPException) -> str:
    """给人看的消息：livechart 写的说明原样返回；Werkzeug 的英文默认说明换成中文。"""
    if exc.description and exc.description != type(exc).description:
        return exc.description
    return DEFAULT_MESSAGES.get(exc.code or 500, f"请求出错（HTTP {exc.code} {exc.name}）")


def _http_error(exc: HTTPException) -> Response:
    """所有 HTTP 错误都以 JSON 返回。"""
    response = json_error(exc.code or 500, _code(exc), _message(exc))
    for name in ("WWW-Authenticate", "Allow", "Retry-After"):
        if exc.get_headers() and (value := dict(exc.get_headers()).get(name)):
            response.headers[name] = value
    return response


def _internal_error(exc: Exception) -> Response:
    """未处理的异常：堆栈只写日志，客户端只看到通用消息。"""
    original = getattr(exc, "original_exception", None) or exc
    if not isinstance(original, InternalServerError):
        current_app.logger.error("未处理的异常", exc_info=original)
    return json_error(500, "internal_server_error", INTERNAL_MESSAGE)


def _cache_unavailable(exc: Exception) -> Response:
    """缓存（Redis）不可用或满了：503，请稍后重试。"""
    if isinstance(exc, Full) or is_full_error(exc):
        return json_error(
            503, "unavailable", "缓存（Redis）已满（maxmemory），拒绝写入：这次什么也没有存入", {"Retry-After": "1"}
        )
    return json_error(503, "unavailable", "缓存（Redis）暂时不可用，请稍后重试", {"Retry-After": "1"})


def init_app(app: Flask) -> None:
    """注册错误处理器。"""
    app.register_error_handler(Unavailable, _cache_unavailable)
    # Flask-Caching 不吞掉 Redis 的错误（docs/pitfalls.md 第 8 条）：直接用 Redis 的地方（协调）也是 503
    app.register_error_handler(RedisError, _cache_unavailable)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(Exception, _internal_error)
