"""任意 Python 可调用对象作为数据源。"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from livechart.sources.base import Source
from livechart.sources.base import SourceError
from livechart.sources.base import names
from livechart.sources.base import require
from livechart.sources.frames import empty_frame
from livechart.sources.frames import one_row
from livechart.sources.frames import to_local_naive


class PythonSource(Source):
    """任意可调用对象："包.模块:函数"，返回 DataFrame、标量字典（追加为一行）或 Series。

    - DataFrame：有 DatetimeIndex 时按时间追加；否则需要 time 列；
    - dict：一行，时间为现在；
    - Series：DatetimeIndex 的 Series 是一列时间序列（列名为 Series 的名字）；其他 Series 当作一行。
    给了 columns（没写时由图表规格填入它的序列列，见 spec.parse_chart）就只取这些列；
    结果缺少其中某列时报错，消息指明缺的列和函数实际返回的列。没有行的结果表示“没有新数据”。
    """

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        require(params, {"callable", "kwargs", "columns"}, {"callable"})
        target = params["callable"]
        if not isinstance(target, str) or ":" not in target:
            raise SourceError("数据源参数 'callable' 必须写成 '包.模块:函数'")
        from werkzeug.utils import ImportStringError
        from werkzeug.utils import import_string

        try:
            function = import_string(target)
        except ImportStringError as exc:
            raise SourceError(f"数据源参数 'callable'：无法导入 {target!r}（{exc.exception}）") from None
        if not callable(function):
            raise SourceError(f"数据源参数 'callable'：{target!r} 不可调用")
        kwargs = params.get("kwargs", {})
        if not isinstance(kwargs, Mapping):
            raise SourceError("数据源参数 'kwargs' 必须是字典")
        result = {"callable": target, "kwargs": dict(kwargs)}
        if "columns" in params:
            result["columns"] = names(params, "columns")
        return result

    @classmethod
    def columns(cls, params: Mapping[str, Any]) -> tuple[str, ...] | None:
        return tuple(params["columns"]) if "columns" in params else None

    def __init__(self, callable: str, kwargs: dict[str, Any] | None = None, columns: list[str] | None = None) -> None:
        from werkzeug.utils import import_string

        self.function = import_string(callable)
        self.kwargs = kwargs or {}
        self.value_columns = columns

    def fetch(self) -> pd.DataFrame:
        result = self.function(**self.kwargs)
        if isinstance(result, Mapping):
            frame = one_row(result)
        elif isinstance(result, pd.Series):
            if isinstance(result.index, pd.DatetimeIndex):
                frame = result.to_frame(name=result.name or "value")
            else:
                frame = one_row({str(key): value for key, value in result.items()})
        elif isinstance(result, pd.DataFrame):
            frame = result
            if not frame.empty and not isinstance(frame.index, pd.DatetimeIndex):
                if "time" not in frame.columns:
                    raise TypeError("python 数据源返回的 DataFrame 需要 DatetimeIndex 或 'time' 列")
                frame = frame.set_index("time")
        else:
            raise TypeError(f"python 数据源必须返回 DataFrame、字典或 Series，收到的是 {type(result).__name__}")
        if frame.empty:
            # 没有行（或一个空字典）：没有新数据，不检查列
            return empty_frame(self.value_columns or [str(c) for c in frame.columns if c != "time"])
        if self.value_columns:
            missing = [c for c in self.value_columns if c not in frame.columns]
            if missing:
                returned = ", ".join(map(str, frame.columns)) or "无"
                raise ValueError(f"python 数据源的结果里没有列 {', '.join(map(repr, missing))}（它返回的列：{returned}）")
            frame = frame[self.value_columns]
        frame = frame.apply(pd.to_numeric, errors="coerce").astype(float)
        frame.index = to_local_naive(frame.index)
        return frame[~frame.index.isna()]
