"""SQL 查询数据源（SQLAlchemy）。"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from livechart.sources.base import Source
from livechart.sources.base import SourceError
from livechart.sources.base import names
from livechart.sources.base import positive
from livechart.sources.base import require
from livechart.sources.frames import empty_frame
from livechart.sources.frames import to_local_naive


class SqlSource(Source):
    """SQL 查询（SQLAlchemy）：SQLite 开箱即用，也支持 PostgreSQL 等。

    查询里可以用 :since 参数只取新行（上一次见到的最新时间）；没有 :since 时每次取全部结果。
    引擎只建一次（连接池），语句有超时：PostgreSQL 用 statement_timeout，
    SQLite 用进度回调在超时后中断查询。
    """

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        require(params, {"url", "query", "time", "columns", "timeout"}, {"url", "query", "time", "columns"})
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
                "columns": names(params, "columns"), "timeout": positive(params, "timeout", 5)}  # fmt: skip

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
