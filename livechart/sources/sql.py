"""SQL 查询数据源（SQLAlchemy）。"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import quote
from urllib.parse import unquote

import pandas as pd

from livechart.sources.base import InputUnavailable
from livechart.sources.base import Source
from livechart.sources.base import SourceError
from livechart.sources.base import connection_problem
from livechart.sources.base import names
from livechart.sources.base import positive
from livechart.sources.base import require
from livechart.sources.frames import empty_frame
from livechart.sources.frames import now
from livechart.sources.frames import to_local_naive

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

# URL 里没写端口时各数据库服务器的默认端口（判断服务器是否在监听时用）
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433, "oracle": 1521}


def sqlite_read_only(url: URL) -> tuple[URL, str | None]:
    """SQLite 文件库的 URL → 只读打开的 URL 与库文件路径；内存库原样返回（路径为 None）。

    普通形式 sqlite:///path 改成 SQLAlchemy 文档中的 URI 形式 sqlite:///file:path?mode=ro&uri=true：
    路径写错时 SQLite 报错，而不是悄悄建一个空库。已经是 URI 形式（uri=true）的 URL 只在没写 mode 时补上 mode=ro。
    """
    database = url.database or ""
    if url.query.get("uri") in ("true", "1"):
        if not database.startswith("file:") or "mode" in url.query:
            return url, None
        path = unquote(database[len("file:") :])
        return url.update_query_dict({"mode": "ro"}), None if path in ("", ":memory:") else path
    if database in ("", ":memory:"):
        return url, None
    # 与 SQLAlchemy 处理普通形式时一样取绝对路径；URI 中的 ? # % 和空格要转义
    path = os.path.abspath(database)
    return url.set(database=f"file:{quote(path)}").update_query_dict({"mode": "ro", "uri": "true"}), path


def server_address(url: URL) -> str:
    """数据库服务器的地址（主机:端口/库名），用在消息里；不含用户名、密码和查询参数。"""
    where = url.host or "本机套接字"
    if url.port:
        where += f":{url.port}"
    return f"{where}/{url.database}" if url.database else where


class SqlSource(Source):
    """SQL 查询（SQLAlchemy）：SQLite 开箱即用，也支持 PostgreSQL 等。

    查询里可以用 :since 参数只取新行（上一次见到的、不晚于现在的最新时间）；没有 :since 时每次取全部结果。
    :since 从不越过现在：时间在未来的行（写入方的时钟错了）会在之后的每次查询里再出现（由重绘任务丢弃并计数，
    见 livechart/quality.py），但不会让它之后写入的真实数据全被跳过。
    引擎只建一次（连接池），语句有超时：PostgreSQL 用 statement_timeout，
    SQLite 用进度回调在超时后中断查询。
    SQLite 库文件以只读方式打开；库文件还不存在、数据库服务器拒绝连接或连不上时，
    fetch 抛出 InputUnavailable（不是配置错误），输入出现后的下一次 fetch 照常读取。
    """

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        require(params, {"url", "query", "time", "columns", "timeout"}, {"url", "query", "time", "columns"})
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(params["url"])
        except (ArgumentError, TypeError, ValueError):
            # 不引用原文：写错的 URL 里往往就有密码，而这条消息会出现在公开的状态里（重新载入配置时的 config_error）
            raise SourceError("数据源参数 'url' 不是 SQLAlchemy URL（应形如 dialect+driver://user:password@host/db）") from None
        if not isinstance(params["query"], str) or not params["query"].strip():
            raise SourceError("数据源参数 'query' 必须是 SQL 字符串")
        if not isinstance(params["time"], str):
            raise SourceError("数据源参数 'time' 必须是时间列的列名")
        return {"url": params["url"], "query": params["query"], "time": params["time"],
                "columns": names(params, "columns"), "timeout": positive(params, "timeout", 5)}  # fmt: skip

    @classmethod
    def columns(cls, params: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(params["columns"])

    def __init__(self, url: str, query: str, time: str, columns: list[str], timeout: float = 5) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy import event
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        self.statement = text(query)
        self.uses_since = ":since" in query
        self.time_column = time
        self.value_columns = columns
        self.timeout = timeout
        self.since: pd.Timestamp | None = None
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        # 数据库服务器（不是 SQLite）的地址，用在“连不上”的消息里；endpoint 是它监听的 (主机, 端口)
        self.server = None if backend == "sqlite" else server_address(parsed)
        port = parsed.port or DEFAULT_PORTS.get(backend)
        self.endpoint = (parsed.host, port) if parsed.host and port else None
        # SQLite 库文件的路径（每次 fetch 前检查它是否存在）；内存库和数据库服务器为 None
        self.sqlite_path: str | None = None
        connect_args: dict[str, Any] = {}
        if backend == "postgresql":
            connect_args["options"] = f"-c statement_timeout={int(timeout * 1000)}"
            connect_args["connect_timeout"] = max(1, int(timeout))
        elif backend == "sqlite":
            parsed, self.sqlite_path = sqlite_read_only(parsed)
            connect_args["timeout"] = timeout  # 等锁的时间
        self.engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
        if backend == "sqlite":
            event.listen(self.engine, "before_cursor_execute", self._sqlite_deadline)

    def _sqlite_deadline(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        """SQLite 没有语句超时：用进度回调在超时后中断（sqlite3.OperationalError: interrupted）。"""
        deadline = time.monotonic() + self.timeout
        conn.connection.driver_connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)

    def _connect(self) -> Any:
        """从连接池取一个连接；输入不在（库文件不存在、服务器拒绝连接或连不上）时抛出 InputUnavailable。"""
        from sqlalchemy.exc import OperationalError

        if self.sqlite_path is not None and not os.path.exists(self.sqlite_path):
            raise InputUnavailable(f"SQLite 数据库 {self.sqlite_path!r} 还不存在")
        try:
            return self.engine.connect()
        except OperationalError:
            if self.sqlite_path is not None and not os.path.exists(self.sqlite_path):
                raise InputUnavailable(f"SQLite 数据库 {self.sqlite_path!r} 还不存在") from None
            # 驱动的连接错误不区分“服务器不在”和“服务器拒绝了我们”（密码错、库不存在）：自己连一下它的端口
            problem = self._unreachable()
            if problem is not None:
                raise InputUnavailable(f"数据库服务器 {self.server} 连不上（{problem}）") from None
            raise

    def _unreachable(self) -> str | None:
        """数据库服务器的端口连不上时返回原因（拒绝连接、主机名不存在、超时）；连得上或无法判断（套接字文件）时为 None。"""
        if self.endpoint is None:
            return None
        try:
            with socket.create_connection(self.endpoint, timeout=min(self.timeout, 2.0)):
                return None  # 服务器在：连接错误是它回应的，照常报错
        except OSError as exc:
            return connection_problem(exc)

    def fetch(self) -> pd.DataFrame:
        params = {}
        if self.uses_since:
            params["since"] = (self.since or pd.Timestamp(0)).to_pydatetime()
        with self._connect() as connection:
            result = connection.execute(self.statement, params)
            table = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        missing = [c for c in (self.time_column, *self.value_columns) if c not in table.columns]
        if missing:
            raise ValueError(f"查询结果里没有列 {missing[0]!r}（结果的列：{', '.join(table.columns)}）")
        if table.empty:
            return empty_frame(self.value_columns)
        values = table[self.value_columns].apply(pd.to_numeric, errors="coerce").astype(float)
        values.index = to_local_naive(table[self.time_column])
        values = values[~values.index.isna()].sort_index()
        # 只前进到不晚于现在的最新一行：一行 2099 年的数据不能把 :since 推过之后所有的行
        arrived = values.index[values.index <= now()]
        if len(arrived) and (self.since is None or arrived[-1] > self.since):
            self.since = arrived[-1]
        return values

    def close(self) -> None:
        self.engine.dispose()
