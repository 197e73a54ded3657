"""数据源：每次 fetch() 返回自上次以来的新数据行（带 DatetimeIndex 的 DataFrame）。

每种数据源一个模块；本包只登记它们并按规格创建。滚动窗口不在这里（见 livechart/window.py）。
本包是纯数据代码，不导入 Flask。时间戳统一为本地时间、无时区（与图上显示的时刻一致）。
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from livechart.sources.base import InputUnavailable
from livechart.sources.base import Source
from livechart.sources.base import SourceError
from livechart.sources.csv_file import CsvSource
from livechart.sources.demo import DemoSource
from livechart.sources.http_json import HttpJsonSource
from livechart.sources.python_callable import PythonSource
from livechart.sources.sql import SqlSource
from livechart.sources.system import SystemSource

__all__ = [
    "SOURCES",
    "CsvSource",
    "DemoSource",
    "HttpJsonSource",
    "InputUnavailable",
    "PythonSource",
    "Source",
    "SourceError",
    "SqlSource",
    "SystemSource",
    "default_label",
    "make_source",
    "normalize",
]  # fmt: skip


SOURCES: dict[str, type[Source]] = {
    "system": SystemSource,
    "csv": CsvSource,
    "sql": SqlSource,
    "http_json": HttpJsonSource,
    "python": PythonSource,
    "demo": DemoSource,
}


def normalize(raw: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """把数据源规格规范化为 (类型, 参数)：{"type": "包.模块:函数", …} 是 python 数据源的简写。"""
    kind = raw.get("type")
    params = {k: v for k, v in raw.items() if k != "type"}
    if isinstance(kind, str) and ":" in kind:
        return "python", PythonSource.validate({"callable": kind, "kwargs": params})
    if kind not in SOURCES:
        raise SourceError(f"不认识的数据源类型 {kind!r}（可用的类型：{', '.join(SOURCES)}，或写成 '包.模块:函数'）")
    return kind, SOURCES[kind].validate(params)


def make_source(kind: str, params: Mapping[str, Any]) -> Source:
    """按已校验的规格创建数据源。"""
    return SOURCES[kind](**params)


def default_label(kind: str, column: str) -> str:
    """列的默认图例标签。"""
    return SOURCES[kind].LABELS.get(column, column)
