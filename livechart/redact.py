"""公开状态里的错误消息：说清楚哪里出了错，但不带数据源的机密。

/api/charts、/healthz 与页面不需要凭据，而数据源的异常文本常常带着连接信息：requests 的
"401 Client Error … for url: http://user:password@host/data?api_key=…"，PostgreSQL 的
'connection to server at "10.0.0.5", port 5432 failed: … user "app"'，SQLAlchemy 附上的 SQL 与参数。
公开的消息只保留：数据源类型、异常类型，以及去掉了 URL 中的用户信息与查询串、主机/端口/用户/库名、
key=value 形式的凭据、SQL 语句与参数的消息文本；数据源参数里的每个机密值也按原文抹掉。
完整的异常（含堆栈）只写日志。本模块是纯文本处理，不导入 Flask。
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

HIDDEN = "…"
# 公开消息的最大长度（字符）
MAX_LENGTH = 300

# scheme://[userinfo@]host[:port][/path][?query][#fragment]
URL = re.compile(
    r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^\s/@'\"<>]*@)?([^\s/?#'\"<>]*)([^\s?#'\"<>]*)(\?[^\s#'\"<>]*)?(#[^\s'\"<>]*)?"
)
# PostgreSQL / libpq 与其他驱动常见的连接细节
CONNECTION_DETAILS = [
    (re.compile(r'(connection to server) (?:at|on) "[^"]*"(?: \([^)]*\))?, port \d+'), r"\1"),
    (re.compile(r'(connection to server) on socket "[^"]*"'), r"\1"),
    (re.compile(r'\b(user|role|database|host|hostaddr|server) "[^"]*"'), rf'\1 "{HIDDEN}"'),
    (re.compile(r"\bport \d+\b"), f"port {HIDDEN}"),
    (re.compile(r"\bport=\d+"), f"port={HIDDEN}"),
    (re.compile(r"\(\s*[\w.-]+\s*:\s*\d+\s*\)"), f"({HIDDEN})"),
    (re.compile(r"\bhost='[^']*'|\bhost=\S+"), f"host={HIDDEN}"),
]
# key=value、key: value 或 "key": "value" 形式的凭据（键名前不是字母即可：AWS_SECRET_ACCESS_KEY=… 也算）
CREDENTIAL = re.compile(
    r"""(?i)(?<![A-Za-z])(password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth|user(?:name)?|dbname)"""
    r"""(['"]?\s*[=:]\s*['"]?)([^\s'",;&}]+)"""
)
# 请求头形式的凭据：值是这一行剩下的全部（Authorization: Bearer <令牌>、Cookie: a=1; b=2）
HEADER_CREDENTIAL = re.compile(r"(?i)(?<![A-Za-z-])(authorization|proxy-authorization|cookie|set-cookie)(['\"]?\s*[:=]\s*)[^\n]*")
# SQLAlchemy 在消息后附的 SQL、参数与说明链接
SQLALCHEMY_TAIL = re.compile(r"\s*\[(?:SQL|parameters): .*?(?=\s*\[(?:SQL|parameters): |\s*\(Background on this error|$)", re.S)
SQLALCHEMY_BACKGROUND = re.compile(r"\s*\(Background on this error at: [^)]*\)")


def _url(match: re.Match[str]) -> str:
    """URL 只留协议与主机：用户信息、路径（可能带令牌，如 /bot<令牌>/getMe、webhook 路径）与查询串都去掉。"""
    scheme, host, path, query, _ = match.groups()
    return f"{scheme}{host}{'/' + HIDDEN if path.strip('/') else ''}{'?' + HIDDEN if query else ''}"


def secret_values(params: Mapping[str, Any]) -> list[str]:
    """数据源参数里的机密原文：URL 的用户名、密码、主机、端口与查询值，请求头的值，以及名字像凭据的参数值。"""
    found: list[str] = []

    def visit(key: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for inner_key, inner in value.items():
                visit(str(inner_key), inner)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(key, item)
        elif isinstance(value, str):
            if "://" in value:
                try:
                    parts = urlsplit(value)
                    # 主机与端口也是连接细节：公开状态只说“服务器连不上”，日志里才有地址
                    found.extend(str(part) for part in (parts.username, parts.password, parts.hostname, parts.port) if part)
                    found.extend(v for _, v in parse_qsl(parts.query) if v)
                except ValueError:
                    pass
            if key.lower() in ("headers", "authorization", "cookie") or CREDENTIAL.fullmatch(f"{key}=x"):
                # "Bearer <令牌>"：令牌本身也可能单独出现在消息里
                found.extend((value, value.split()[-1]) if value.split() else (value,))

    for key, value in params.items():
        visit(key, value)
        if key == "headers" and isinstance(value, Mapping):
            for header in value.values():
                found.extend((str(header), *str(header).split()[-1:]))
    # 太短的值（如 "1"）抹掉会毁了整条消息，也算不上机密
    return sorted({value for value in found if len(value) >= 4}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """去掉文本里的机密与连接细节。"""
    for secret in secrets:
        # 只替换完整的词：用户 postgres 不该把列名 postgres_time 也抹掉一半
        text = re.sub(rf"(?<![\w]){re.escape(secret)}(?![\w])", HIDDEN, text)
    text = SQLALCHEMY_BACKGROUND.sub("", text)
    text = SQLALCHEMY_TAIL.sub("", text)
    text = URL.sub(_url, text)
    for pattern, replacement in CONNECTION_DETAILS:
        text = pattern.sub(replacement, text)
    text = HEADER_CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}", text)
    text = CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + HIDDEN


# 公开的错误消息里“出错的地方”：数据源、绘制（没有绘图函数，或错不在它）、某个绘图函数
SOURCE_WHERE = "数据源 {}"
DRAWING_WHERE = "绘制"
DRAW_FUNCTION_WHERE = "绘图函数 {}"


def public_message(exc: BaseException, where: str, params: Mapping[str, Any]) -> str:
    """公开状态里的错误消息："<出错的地方>：<异常类型>: <去掉机密的消息>"，如 "数据源 http_json：HTTPError: …"。

    异常类型与消息按 Python 的惯例写（"类型: 消息"）；消息原文来自数据源或驱动时原样保留（只去掉机密）。
    """
    detail = scrub(str(exc), secret_values(params))
    return f"{where}：{type(exc).__name__}" + (f": {detail}" if detail else "")
