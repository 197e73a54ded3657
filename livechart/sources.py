"""数据源：每次 fetch() 返回自上次以来的新数据行（带 DatetimeIndex 的 DataFrame）。

滚动窗口不在这里：它由重绘任务持有并存入缓存（见 jobs.py、store.py），
这样使用 Redis 时历史数据能跨进程重启保留。本模块是纯数据代码，不导入 Flask。
时间戳统一为本地时间、无时区（与图上显示的时刻一致）。

每种数据源有 validate(params)：启动时校验参数，出错时抛出 SourceError，消息指明出错的选项。
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import ClassVar

import numpy as np
import pandas as pd
import psutil
from tzlocal import get_localzone


class SourceError(ValueError):
    """数据源参数不合法（启动时）。"""


def now() -> pd.Timestamp:
    """当前本地时间（无时区）。"""
    return pd.Timestamp.now()


def empty_frame(columns: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """没有新数据时返回的空 DataFrame。"""
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns}, index=pd.DatetimeIndex([], name="time"))


def one_row(values: Mapping[str, float], at: pd.Timestamp | None = None) -> pd.DataFrame:
    """一行数据（时间默认为现在）。"""
    return pd.DataFrame({k: [float(v)] for k, v in values.items()}, index=pd.DatetimeIndex([at or now()], name="time"))


def to_local_naive(values: Any) -> pd.DatetimeIndex:
    """把时间列（字符串、datetime 或 epoch 秒）转成本地、无时区的 DatetimeIndex；无法解析的为 NaT。

    无时区的时间按本地时间理解；带时区的换算到本地时区。
    """
    series = pd.Series(values)
    zone = get_localzone()
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = series
    elif pd.api.types.is_numeric_dtype(series) or (len(series) and pd.to_numeric(series, errors="coerce").notna().all()):
        # epoch 秒（包括 CSV 里以文本保存的数字）
        parsed = pd.to_datetime(pd.to_numeric(series, errors="coerce"), unit="s", errors="coerce", utc=True)
    else:
        try:
            parsed = pd.to_datetime(series, errors="coerce", format="mixed")
        except (TypeError, ValueError):
            parsed = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
        if parsed.dtype == object:  # 有的带时区、有的不带
            parsed = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(zone).dt.tz_localize(None)
    return pd.DatetimeIndex(parsed, name="time")


def _require(params: Mapping[str, Any], allowed: set[str], required: set[str] = frozenset()) -> None:
    """检查参数名：多余的或缺少的都报错。"""
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise SourceError(f"unknown source option {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
    missing = sorted(required - set(params))
    if missing:
        raise SourceError(f"source option {missing[0]!r} is required")


def _positive(params: Mapping[str, Any], key: str, default: float, high: float = 3600) -> float:
    """正数参数（如超时秒数）。"""
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= high:
        raise SourceError(f"source option {key!r} must be a number in (0, {high}], got {value!r}")
    return float(value)


def _names(params: Mapping[str, Any], key: str) -> list[str]:
    """非空的列名列表。"""
    value = params.get(key)
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) and v for v in value):
        raise SourceError(f"source option {key!r} must be a non-empty list of column names")
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

    def close(self) -> None:
        """释放资源（连接池、文件）。"""


# ---------------------------------------------------------------- system


class SystemSource(Source):
    """本机指标（psutil）：CPU（总计与每核）、内存、交换分区、负载、网络与磁盘吞吐。

    吞吐量由相邻两次采样的计数差除以时间差得到；计数器回绕或被重置（差值为负）时，
    这一次不输出速率而是重新建立基准，不会出现负的或巨大的假速率。
    """

    METRICS: ClassVar[dict[str, tuple[str, ...]]] = {
        "cpu": ("cpu",),
        "cpu_cores": tuple(f"cpu{i}" for i in range(psutil.cpu_count() or 1)),
        "memory": ("memory",),
        "swap": ("swap",),
        "load": ("load1", "load5", "load15"),
        "net": ("net_sent", "net_recv"),
        "disk": ("disk_read", "disk_write"),
    }
    LABELS: ClassVar[dict[str, str]] = {
        "cpu": "CPU",
        "memory": "内存",
        "swap": "交换分区",
        "load1": "1 分钟负载",
        "load5": "5 分钟负载",
        "load15": "15 分钟负载",
        "net_sent": "发送",
        "net_recv": "接收",
        "disk_read": "磁盘读",
        "disk_write": "磁盘写",
        **{f"cpu{i}": f"CPU {i}" for i in range(psutil.cpu_count() or 1)},
    }

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, {"metrics"})
        metrics = params.get("metrics", ["cpu", "memory"])
        if not isinstance(metrics, list | tuple) or not metrics:
            raise SourceError("source option 'metrics' must be a non-empty list")
        bad = [m for m in metrics if m not in cls.METRICS]
        if bad:
            raise SourceError(f"unknown system metric {bad[0]!r} (known: {', '.join(cls.METRICS)})")
        return {"metrics": list(metrics)}

    @classmethod
    def columns(cls, params: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(c for m in params["metrics"] for c in cls.METRICS[m])

    def __init__(self, metrics: list[str], counters: Callable[[], dict[str, float]] | None = None) -> None:
        self.metrics = metrics
        # 计数器读取函数可注入（测试计数器重置时用；真实内核计数器无法重置）
        self.counters = counters or self._read_counters
        self.previous: tuple[float, dict[str, float]] | None = None
        # 第一次 cpu_percent(None) 总是 0.0：先调用一次作为基准
        psutil.cpu_percent(interval=None)
        psutil.cpu_percent(interval=None, percpu=True)
        if self._needs_counters:
            self.previous = (time.monotonic(), self.counters())

    @property
    def _needs_counters(self) -> bool:
        return "net" in self.metrics or "disk" in self.metrics

    def _read_counters(self) -> dict[str, float]:
        """网络与磁盘的累计字节数。"""
        values: dict[str, float] = {}
        if "net" in self.metrics:
            net = psutil.net_io_counters()
            values.update(net_sent=net.bytes_sent, net_recv=net.bytes_recv)
        if "disk" in self.metrics:
            disk = psutil.disk_io_counters()
            values.update(disk_read=disk.read_bytes if disk else 0, disk_write=disk.write_bytes if disk else 0)
        return values

    def _rates(self) -> dict[str, float]:
        """计数差 / 时间差；回绕或重置时返回 NaN（图上是一个缺口）并重新建立基准。"""
        moment, counters = time.monotonic(), self.counters()
        assert self.previous is not None
        then, before = self.previous
        self.previous = (moment, counters)
        elapsed = moment - then
        rates = {}
        for key, value in counters.items():
            delta = value - before.get(key, value)
            rates[key] = delta / elapsed if delta >= 0 and elapsed > 0 else math.nan
        return rates

    def fetch(self) -> pd.DataFrame:
        row: dict[str, float] = {}
        if "cpu" in self.metrics:
            # interval=None：与上一次调用之间的平均值，不阻塞调度线程
            row["cpu"] = psutil.cpu_percent(interval=None)
        if "cpu_cores" in self.metrics:
            row.update({f"cpu{i}": v for i, v in enumerate(psutil.cpu_percent(interval=None, percpu=True))})
        if "memory" in self.metrics:
            row["memory"] = psutil.virtual_memory().percent
        if "swap" in self.metrics:
            row["swap"] = psutil.swap_memory().percent
        if "load" in self.metrics:
            row.update(zip(("load1", "load5", "load15"), psutil.getloadavg(), strict=True))
        if self._needs_counters:
            row.update(self._rates())
        return one_row({c: row[c] for c in self.columns({"metrics": self.metrics})})


# ---------------------------------------------------------------- csv


class CsvSource(Source):
    """跟踪另一个程序不断追加的 CSV 文件（tail -F）：每次只读新增的字节。

    - 不完整的最后一行留到下次（写入方可能只写了一半）；
    - 文件变短（被截断）时从头再读；inode 变了（被轮转）时先读完旧文件剩下的部分，再从头读新文件；
    - 格式错误的行跳过并计数（malformed）。
    第一次打开较大的文件时只读最后 initial_bytes 字节，启动不会因历史文件太大而变慢。
    """

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, {"path", "time", "columns", "delimiter", "initial_bytes"}, {"path", "time", "columns"})
        path = params["path"]
        if not isinstance(path, str) or not path:
            raise SourceError("source option 'path' must be a file path")
        if not os.path.isfile(path):
            raise SourceError(f"source option 'path': file {path!r} does not exist")
        if not isinstance(params["time"], str):
            raise SourceError("source option 'time' must be the name of the time column")
        delimiter = params.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise SourceError("source option 'delimiter' must be one character")
        initial = params.get("initial_bytes", 1_000_000)
        if isinstance(initial, bool) or not isinstance(initial, int) or initial < 1:
            raise SourceError("source option 'initial_bytes' must be a positive whole number")
        return {"path": path, "time": params["time"], "columns": _names(params, "columns"), "delimiter": delimiter,
                "initial_bytes": initial}  # fmt: skip

    @classmethod
    def columns(cls, params: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(params["columns"])

    def __init__(self, path: str, time: str, columns: list[str], delimiter: str = ",", initial_bytes: int = 1_000_000) -> None:
        self.path = path
        self.time_column = time
        self.value_columns = columns
        self.delimiter = delimiter
        self.initial_bytes = initial_bytes
        self.handle: io.BufferedReader | None = None
        self.inode: tuple[int, int] | None = None
        self.offset = 0
        self.partial = b""
        self.header: list[str] | None = None
        self.malformed = 0

    def _open(self, first: bool) -> None:
        """打开（或重新打开）文件；首次打开大文件时跳到末尾附近。"""
        if self.handle:
            self.handle.close()
        self.handle = open(self.path, "rb")  # noqa: SIM115  句柄要跨多次 fetch 保持打开
        status = os.fstat(self.handle.fileno())
        self.inode = (status.st_dev, status.st_ino)
        self.header = None
        self.partial = b""
        self.offset = 0
        header = self.handle.readline()
        self.offset = len(header)
        self._parse_header(header)
        if first and status.st_size - self.offset > self.initial_bytes:
            # 跳到末尾附近，并丢弃被截断的第一行
            self.offset = status.st_size - self.initial_bytes
            self.handle.seek(self.offset)
            self.offset += len(self.handle.readline())

    def _parse_header(self, line: bytes) -> None:
        if not line.endswith(b"\n"):
            # 表头还没写完：下次从头再来
            self.offset = 0
            self.handle.seek(0)
            return
        self.header = next(csv.reader([line.decode("utf-8-sig").strip()], delimiter=self.delimiter))
        missing = [c for c in (self.time_column, *self.value_columns) if c not in self.header]
        if missing:
            raise ValueError(f"CSV file {self.path!r} has no column {missing[0]!r} (header: {', '.join(self.header)})")

    def _read_new(self) -> bytes:
        """从当前文件读出新增的完整行。"""
        assert self.handle is not None
        if self.header is None:
            self._parse_header(self.handle.readline())
            if self.header is None:
                return b""
            self.offset = self.handle.tell()
        self.handle.seek(self.offset)
        data = self.partial + self.handle.read()
        self.offset = self.handle.tell()
        complete, newline, rest = data.rpartition(b"\n")
        self.partial = rest
        return complete + newline

    def fetch(self) -> pd.DataFrame:
        chunks = []
        if self.handle is None:
            self._open(first=True)
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            # 轮转的间隙：旧文件已改名、新文件还没建好
            status = None
        if status is not None and (status.st_dev, status.st_ino) != self.inode:
            chunks.append(self._read_new())  # 轮转：先读完旧文件
            self._open(first=False)
        elif status is not None and status.st_size < self.offset:
            self._open(first=False)  # 截断：从头读
        chunks.append(self._read_new())
        return self._parse(b"".join(chunks))

    def _parse(self, data: bytes) -> pd.DataFrame:
        """解析完整的行；格式错误的行跳过并计数。"""
        if not data or self.header is None:
            return empty_frame(self.value_columns)
        width = len(self.header)
        rows = [r for r in csv.reader(io.StringIO(data.decode("utf-8", errors="replace")), delimiter=self.delimiter) if r]
        good = [r for r in rows if len(r) == width]
        self.malformed += len(rows) - len(good)
        table = pd.DataFrame(good, columns=self.header)
        index = to_local_naive(table[self.time_column])
        values = table[self.value_columns].apply(pd.to_numeric, errors="coerce")
        values.index = index
        bad = values.index.isna() | values.isna().all(axis=1).to_numpy()
        self.malformed += int(bad.sum())
        return values[~bad].astype(float)

    def close(self) -> None:
        if self.handle:
            self.handle.close()
            self.handle = None


# ---------------------------------------------------------------- sql


class SqlSource(Source):
    """SQL 查询（SQLAlchemy）：SQLite 开箱即用，也支持 PostgreSQL 等。

    查询里可以用 :since 参数只取新行（上一次见到的最新时间）；没有 :since 时每次取全部结果。
    引擎只建一次（连接池），语句有超时：PostgreSQL 用 statement_timeout，
    SQLite 用进度回调在超时后中断查询。
    """

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, {"url", "query", "time", "columns", "timeout"}, {"url", "query", "time", "columns"})
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(params["url"])
        except (ArgumentError, TypeError, ValueError):
            raise SourceError(f"source option 'url': not a SQLAlchemy URL: {params['url']!r}") from None
        local_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        if local_file and not os.path.isfile(url.database):
            raise SourceError(f"source option 'url': SQLite database {url.database!r} does not exist")
        if not isinstance(params["query"], str) or not params["query"].strip():
            raise SourceError("source option 'query' must be a SQL string")
        if not isinstance(params["time"], str):
            raise SourceError("source option 'time' must be the name of the time column")
        return {"url": params["url"], "query": params["query"], "time": params["time"],
                "columns": _names(params, "columns"), "timeout": _positive(params, "timeout", 5)}  # fmt: skip

    @classmethod
    def columns(cls, params: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(params["columns"])

    def __init__(self, url: str, query: str, time: str, columns: list[str], timeout: float = 5) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy import event
        from sqlalchemy import text

        self.statement = text(query)
        self.uses_since = ":since" in query
        self.time_column = time
        self.value_columns = columns
        self.timeout = timeout
        self.since: pd.Timestamp | None = None
        backend = url.split(":", 1)[0].split("+", 1)[0]
        connect_args: dict[str, Any] = {}
        if backend == "postgresql":
            connect_args["options"] = f"-c statement_timeout={int(timeout * 1000)}"
            connect_args["connect_timeout"] = max(1, int(timeout))
        elif backend == "sqlite":
            connect_args["timeout"] = timeout  # 等锁的时间
        self.engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        if backend == "sqlite":
            event.listen(self.engine, "before_cursor_execute", self._sqlite_deadline)

    def _sqlite_deadline(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        """SQLite 没有语句超时：用进度回调在超时后中断（sqlite3.OperationalError: interrupted）。"""
        deadline = time.monotonic() + self.timeout
        conn.connection.driver_connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)

    def fetch(self) -> pd.DataFrame:
        params = {}
        if self.uses_since:
            params["since"] = (self.since or pd.Timestamp(0)).to_pydatetime()
        with self.engine.connect() as connection:
            result = connection.execute(self.statement, params)
            table = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        missing = [c for c in (self.time_column, *self.value_columns) if c not in table.columns]
        if missing:
            raise ValueError(f"query result has no column {missing[0]!r} (columns: {', '.join(table.columns)})")
        if table.empty:
            return empty_frame(self.value_columns)
        values = table[self.value_columns].apply(pd.to_numeric, errors="coerce").astype(float)
        values.index = to_local_naive(table[self.time_column])
        values = values[~values.index.isna()].sort_index()
        if len(values):
            self.since = values.index[-1]
        return values

    def close(self) -> None:
        self.engine.dispose()


# ---------------------------------------------------------------- http_json


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


class HttpJsonSource(Source):
    """GET 一个 JSON 接口，按路径取出数值（带超时）。"""

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, {"url", "values", "time", "timeout", "headers"}, {"url", "values"})
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
        return {"url": url, "values": dict(values), "time": params.get("time"), "timeout": _positive(params, "timeout", 5),
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
        response = self.session.get(self.url, timeout=self.timeout)
        response.raise_for_status()
        document = response.json()
        row = {column: float(pick(document, path)) for column, path in self.values.items()}
        at = to_local_naive([pick(document, self.time_path)])[0] if self.time_path else None
        if at is not None and pd.isna(at):
            raise ValueError(f"path {self.time_path!r}: not a timestamp")
        return one_row(row, at)

    def close(self) -> None:
        self.session.close()


# ---------------------------------------------------------------- python


class PythonSource(Source):
    """任意可调用对象："包.模块:函数"，返回 DataFrame、标量字典（追加为一行）或 Series。

    - DataFrame：有 DatetimeIndex 时按时间追加；否则需要 time 列；
    - dict：一行，时间为现在；
    - Series：DatetimeIndex 的 Series 是一列时间序列（列名为 Series 的名字）；其他 Series 当作一行。
    """

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, {"callable", "kwargs", "columns"}, {"callable"})
        target = params["callable"]
        if not isinstance(target, str) or ":" not in target:
            raise SourceError("source option 'callable' must be 'package.module:function'")
        from werkzeug.utils import ImportStringError
        from werkzeug.utils import import_string

        try:
            function = import_string(target)
        except ImportStringError as exc:
            raise SourceError(f"source option 'callable': cannot import {target!r} ({exc.exception})") from None
        if not callable(function):
            raise SourceError(f"source option 'callable': {target!r} is not callable")
        kwargs = params.get("kwargs", {})
        if not isinstance(kwargs, Mapping):
            raise SourceError("source option 'kwargs' must be a dict")
        result = {"callable": target, "kwargs": dict(kwargs)}
        if "columns" in params:
            result["columns"] = _names(params, "columns")
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
                frame = one_row(result.to_dict())
        elif isinstance(result, pd.DataFrame):
            frame = result
            if not isinstance(frame.index, pd.DatetimeIndex):
                if "time" not in frame.columns:
                    raise TypeError("a DataFrame from a python source needs a DatetimeIndex or a 'time' column")
                frame = frame.set_index("time")
        else:
            raise TypeError(f"a python source must return a DataFrame, a dict or a Series, got {type(result).__name__}")
        frame = frame.apply(pd.to_numeric, errors="coerce").astype(float)
        frame.index = to_local_naive(frame.index)
        frame = frame[~frame.index.isna()]
        return frame[self.value_columns] if self.value_columns else frame


# ---------------------------------------------------------------- demo


class DemoSource(Source):
    """可复现的模拟序列：正弦加噪声（signal）与随机游走（walk）。

    数值只取决于种子和第几个点，与墙上时间无关，测试可以断言具体数值。
    窗口为空时（首次启动）可以按任务间隔回填整个窗口，页面一打开就有完整曲线。
    """

    LABELS: ClassVar[dict[str, str]] = {"signal": "信号", "walk": "随机游走"}

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, {"seed", "period", "noise"})
        seed = params.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise SourceError(f"source option 'seed' must be a whole number in [0, 2**32), got {seed!r}")
        return {"seed": seed, "period": _positive(params, "period", 60, 1e6), "noise": _positive(params, "noise", 0.1, 10)}

    @classmethod
    def columns(cls, params: Mapping[str, Any]) -> tuple[str, ...]:
        return ("signal", "walk")

    def __init__(self, seed: int = 0, period: float = 60, noise: float = 0.1) -> None:
        self.rng = np.random.default_rng(seed)
        self.period = float(period)
        self.noise = float(noise)
        self.tick = 0
        self.walk = 0.0

    def _rows(self, times: list[pd.Timestamp]) -> pd.DataFrame:
        """为给定时刻生成数据行（按点的序号，而非时间）。"""
        ticks = np.arange(self.tick, self.tick + len(times))
        self.tick += len(times)
        signal = np.sin(ticks * (2 * math.pi / self.period)) + self.rng.normal(0.0, self.noise, len(times))
        walk = self.walk + np.cumsum(self.rng.normal(0.0, 0.05, len(times)))
        self.walk = float(walk[-1])
        return pd.DataFrame({"signal": signal, "walk": walk}, index=pd.DatetimeIndex(times, name="time"))

    def backfill(self, points: int, step: float) -> pd.DataFrame:
        """生成截至现在、间隔 step 秒的 points 个历史点。"""
        end = now()
        return self._rows([end - pd.Timedelta(seconds=step * i) for i in range(points, 0, -1)])

    def fetch(self) -> pd.DataFrame:
        return self._rows([now()])


def append_window(window: pd.DataFrame | None, rows: pd.DataFrame, points: int, span: float | None) -> pd.DataFrame:
    """把新行并入滚动窗口：按时间排序，同一时刻以新值为准，再按点数与时长裁剪（内存有界）。"""
    frame = rows if window is None or window.empty else pd.concat([window, rows])
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index(kind="stable")
    if frame.index.has_duplicates:
        frame = frame[~frame.index.duplicated(keep="last")]
    if span is not None and len(frame):
        frame = frame[frame.index > frame.index[-1] - pd.Timedelta(seconds=span)]
    return frame.iloc[-points:]


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
        raise SourceError(f"unknown source type {kind!r} (known: {', '.join(SOURCES)}, or 'package.module:function')")
    return kind, SOURCES[kind].validate(params)


def make_source(kind: str, params: Mapping[str, Any]) -> Source:
    """按已校验的规格创建数据源。"""
    return SOURCES[kind](**params)


def default_label(kind: str, column: str) -> str:
    """列的默认图例标签。"""
    return SOURCES[kind].LABELS.get(column, column)
