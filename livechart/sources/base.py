"""数据源的基类与参数校验：每种数据源的 validate(params) 在启动时校验参数，出错时抛出 SourceError。"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any
from typing import ClassVar

import pandas as pd


class SourceError(ValueError):
    """数据源参数不合法（启动时）：配置错误，服务拒绝启动。"""


class InputUnavailable(Exception):
    """数据源的输入暂时不在（文件还不存在、服务拒绝连接或已停止）：不是配置错误。

    重绘任务把它记录在图表状态的 last_error 里，只记一行警告（没有堆栈），下一个间隔再试；
    输入出现后图表在一个间隔内恢复。消息要指明缺的是什么（路径、主机），但不带密码等机密。
    """


def connection_problem(exc: BaseException) -> str:
    """连接失败的简短原因（拒绝连接、主机名不存在、连接超时……），取自异常链里的套接字错误。

    客户端库自己的消息常带着完整的 URL 或连接串（查询参数里可能有密钥），不能原样显示。
    """
    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        error = pending.pop(0)
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, socket.gaierror):
            return "找不到这个主机名"
        if isinstance(error, TimeoutError):
            return "连接超时"
        if isinstance(error, OSError) and error.strerror:
            return error.strerror  # 操作系统的原文（如 Connection refused）
        # requests / urllib3 把底层错误放在 args、reason 或异常链里
        pending += [error.__cause__, error.__context__, getattr(error, "reason", None), *error.args]
    return "连接失败"


def require(params: Mapping[str, Any], allowed: set[str], required: frozenset[str] | set[str] = frozenset()) -> None:
    """检查参数名：多余的或缺少的都报错。"""
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise SourceError(f"不认识的数据源参数 {unknown[0]!r}（可用的参数：{', '.join(sorted(allowed))}）")
    missing = sorted(required - set(params))
    if missing:
        raise SourceError(f"缺少数据源参数 {missing[0]!r}")


def positive(params: Mapping[str, Any], key: str, default: float, high: float = 3600) -> float:
    """正数参数（如超时秒数）。"""
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= high:
        raise SourceError(f"数据源参数 {key!r} 必须是大于 0、不超过 {high:.15g} 的数，收到 {value!r}")
    return float(value)


def names(params: Mapping[str, Any], key: str) -> list[str]:
    """非空的列名列表。"""
    value = params.get(key)
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) and v for v in value):
        raise SourceError(f"数据源参数 {key!r} 必须是非空的列名列表")
    return list(value)


class Source:
    """数据源基类。"""

    # 各列的默认中文标签（图例用）
    LABELS: ClassVar[dict[str, str]] = {}

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        """校验并补全参数；出错时抛出 SourceError。"""
        raise NotImplementedError

    @classmethod
    def columns(cls, params: Mapping[str, Any]) -> tuple[str, ...] | None:
        """该数据源产生的列；事先无法知道时返回 None。"""
        return None

    def fetch(self) -> pd.DataFrame:
        """返回新数据行。"""
        raise NotImplementedError

    def stats(self) -> dict[str, int]:
        """数据源自己的计数（名字 → 自创建以来的累计值，如 CSV 跳过的格式错误的行），给状态显示；没有时为空字典。"""
        return {}

    def close(self) -> None:
        """释放资源（连接池、文件）。"""
