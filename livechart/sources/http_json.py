"""HTTP JSON 接口数据源。"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from livechart.sources.base import InputUnavailable
from livechart.sources.base import Source
from livechart.sources.base import SourceError
from livechart.sources.base import connection_problem
from livechart.sources.base import positive
from livechart.sources.base import require
from livechart.sources.frames import one_row
from livechart.sources.frames import to_local_naive


def pick(document: Any, path: str) -> Any:
    """按简单路径取值：a.b.0.c（点分隔，数字是列表下标）。"""
    value = document
    for part in path.split("."):
        if isinstance(value, list):
            try:
                value = value[int(part)]
            except (ValueError, IndexError):
                raise KeyError(f"path {path!r}: no item {part!r}") from None
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(f"path {path!r}: no key {part!r}")
    return value


def origin(url: str) -> str:
    """URL 的 scheme://主机[:端口]，用在消息里：不含用户名、密码、路径和查询参数（其中可能有密钥）。"""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class HttpJsonSource(Source):
    """GET 一个 JSON 接口，按路径取出数值（带超时）。

    服务没有启动（拒绝连接）、主机名解析失败或连接超时：fetch 抛出 InputUnavailable（不是配置错误），
    服务恢复后的下一次 fetch 照常读取。连上之后的错误（超时、HTTP 错误、JSON 不对）照常报错。
    """

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        require(params, {"url", "values", "time", "timeout", "headers"}, {"url", "values"})
        url = params["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise SourceError("source option 'url' must be an http:// or https:// URL")
        values = params["values"]
        if not isinstance(values, Mapping) or not values or not all(isinstance(p, str) and p for p in values.values()):
            raise SourceError("source option 'values' must map column names to JSON paths like 'data.0.value'")
        headers = params.get("headers", {})
        if not isinstance(headers, Mapping):
            raise SourceError("source option 'headers' must be a dict")
        if "time" in params and not isinstance(params["time"], str):
            raise SourceError("source option 'time' must be a JSON path to a timestamp")
        return {"url": url, "values": dict(values), "time": params.get("time"), "timeout": positive(params, "timeout", 5),
                "headers": dict(headers)}  # fmt: skip

    @classmethod
    def columns(cls, params: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(params["values"])

    def __init__(self, url: str, values: dict[str, str], time: str | None = None, timeout: float = 5,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        import requests

        self.url = url
        self.values = values
        self.time_path = time
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", **(headers or {})})

    def fetch(self) -> pd.DataFrame:
        import requests

        try:
            response = self.session.get(self.url, timeout=self.timeout)
        except requests.exceptions.SSLError:
            raise  # 证书问题是配置问题，不是“服务还没起来”
        except requests.ConnectTimeout:
            raise InputUnavailable(
                f"HTTP source {origin(self.url)} is not reachable (no connection within {self.timeout:g} s)"
            ) from None
        except requests.ConnectionError as exc:
            raise InputUnavailable(f"HTTP source {origin(self.url)} is not reachable ({connection_problem(exc)})") from None
        response.raise_for_status()
        document = response.json()
        row = {column: float(pick(document, path)) for column, path in self.values.items()}
        at = to_local_naive([pick(document, self.time_path)])[0] if self.time_path else None
        if at is not None and pd.isna(at):
            raise ValueError(f"path {self.time_path!r}: not a timestamp")
        return one_row(row, at)

    def close(self) -> None:
        self.session.close()
