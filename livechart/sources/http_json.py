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
                raise KeyError(f"路径 {path!r}：没有第 {part!r} 项") from None
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(f"路径 {path!r}：没有键 {part!r}")
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
            raise SourceError("数据源参数 'url' 必须是 http:// 或 https:// 开头的 URL")
        values = params["values"]
        if not isinstance(values, Mapping) or not values or not all(isinstance(p, str) and p for p in values.values()):
            raise SourceError("数据源参数 'values' 必须是从列名到 JSON 路径（如 'data.0.value'）的字典")
        headers = params.get("headers", {})
        if not isinstance(headers, Mapping):
            raise SourceError("数据源参数 'headers' 必须是字典")
        if "time" in params and not isinstance(params["time"], str):
            raise SourceError("数据源参数 'time' 必须是指向时间戳的 JSON 路径")
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
            raise InputUnavailable(f"HTTP 数据源 {origin(self.url)} 连不上（{self.timeout:g} 秒内没有建立连接）") from None
        except requests.ConnectionError as exc:
            raise InputUnavailable(f"HTTP 数据源 {origin(self.url)} 连不上（{connection_problem(exc)}）") from None
        response.raise_for_status()
        document = response.json()
        row = {column: float(pick(document, path)) for column, path in self.values.items()}
        at = to_local_naive([pick(document, self.time_path)])[0] if self.time_path else None
        if at is not None and pd.isna(at):
            raise ValueError(f"路径 {self.time_path!r}：不是时间戳")
        return one_row(row, at)

    def close(self) -> None:
        self.session.close()
