"""CSV 文件数据源：跟踪另一个程序不断追加的文件。"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from livechart.sources.base import InputUnavailable
from livechart.sources.base import Source
from livechart.sources.base import SourceError
from livechart.sources.base import names
from livechart.sources.base import require
from livechart.sources.frames import empty_frame
from livechart.sources.frames import to_local_naive

# 路径不见了这么多秒之后才算文件被删掉（或移走后没有新文件）：轮转的间隙（改名后新建）比这短得多
MISSING_GRACE = 2.0


class CsvSource(Source):
    """跟踪另一个程序不断追加的 CSV 文件（tail -F）：每次只读新增的字节。

    - 不完整的最后一行留到下次（写入方可能只写了一半）；
    - 文件变短（被截断）时从头再读；inode 变了（被轮转）时先读完旧文件剩下的部分，再从头读新文件；
    - 格式错误的行跳过并计数（malformed，由 stats() 报告为 malformed_rows）。
    第一次打开较大的文件时只读最后 initial_bytes 字节，启动不会因历史文件太大而变慢。
    文件还不存在（写入方尚未启动）不是配置错误：fetch 抛出 InputUnavailable，文件出现后的下一次 fetch 开始读。
    文件被删掉（路径超过 MISSING_GRACE 秒仍不在，不是轮转的间隙）时关掉旧文件、抛出 InputUnavailable，
    而不是悄悄地一直画旧数据；同一路径上出现新文件后从头读它。
    """

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        require(params, {"path", "time", "columns", "delimiter", "initial_bytes"}, {"path", "time", "columns"})
        path = params["path"]
        if not isinstance(path, str) or not path:
            raise SourceError("数据源参数 'path' 必须是文件路径")
        # 文件可以稍后才出现（运行时报 InputUnavailable）；但已存在的目录肯定不是 CSV 文件
        if os.path.isdir(path):
            raise SourceError(f"数据源参数 'path'：{path!r} 是目录，不是 CSV 文件")
        if not isinstance(params["time"], str):
            raise SourceError("数据源参数 'time' 必须是时间列的列名")
        delimiter = params.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise SourceError("数据源参数 'delimiter' 必须是一个字符")
        initial = params.get("initial_bytes", 1_000_000)
        if isinstance(initial, bool) or not isinstance(initial, int) or initial < 1:
            raise SourceError("数据源参数 'initial_bytes' 必须是正整数")
        return {"path": path, "time": params["time"], "columns": names(params, "columns"), "delimiter": delimiter,
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
        # 路径开始不见的时刻（monotonic）；文件被删掉后报告的消息（新文件出现前一直用它）
        self.missing_since: float | None = None
        self.lost: str | None = None

    def _open(self, first: bool) -> None:
        """打开（或重新打开）文件；首次打开大文件时跳到末尾附近。"""
        if self.handle:
            self.handle.close()
            self.handle = None
        try:
            self.handle = open(self.path, "rb")  # noqa: SIM115  句柄要跨多次 fetch 保持打开
        except FileNotFoundError:
            raise InputUnavailable(self.lost or f"CSV 文件 {self.path!r} 还不存在") from None
        self.lost = self.missing_since = None
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
            assert self.handle is not None  # 读表头时文件是开着的
            self.handle.seek(0)
            return
        self.header = next(csv.reader([line.decode("utf-8-sig").strip()], delimiter=self.delimiter))
        missing = [c for c in (self.time_column, *self.value_columns) if c not in self.header]
        if missing:
            raise ValueError(f"CSV 文件 {self.path!r} 没有列 {missing[0]!r}（表头：{', '.join(self.header)}）")

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

    def _missing(self) -> None:
        """路径不在了：轮转的间隙里照常读旧文件；超过 MISSING_GRACE 秒还不在，就关掉旧文件并报告在等它。"""
        assert self.handle is not None
        started = self.missing_since = self.missing_since or time.monotonic()
        if time.monotonic() - started < MISSING_GRACE:
            return
        # 旧文件的链接数为 0：被删掉了；否则是被改名移走、而没有新文件
        deleted = os.fstat(self.handle.fileno()).st_nlink == 0
        how = "被删除了" if deleted else "被移走了，原处也没有新文件"
        self.lost = f"CSV 文件 {self.path!r} {how}；等它重新出现"
        self.close()
        raise InputUnavailable(self.lost)

    def fetch(self) -> pd.DataFrame:
        chunks = []
        if self.handle is None:
            # 文件被删掉过：新文件从头读（与轮转一样），不跳到末尾
            self._open(first=self.lost is None)
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            # 轮转的间隙（旧文件已改名、新文件还没建好），或者文件被删掉了
            status = None
            self._missing()
        else:
            self.missing_since = None
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

    def stats(self) -> dict[str, int]:
        """跳过的格式错误的行（列数不对、时间无法解析或没有一个值是数）的累计数。"""
        return {"malformed_rows": self.malformed}

    def close(self) -> None:
        if self.handle:
            self.handle.close()
            self.handle = None
