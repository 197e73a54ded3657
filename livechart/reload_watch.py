"""监视配置文件：发现保存，读出新的内容交给重新载入（livechart/reload.py；docs/reload.md 的“Watching”）。

每 POLL_SECONDS 秒 stat 一次配置文件；(inode, 大小, 修改时间) 变了、或修改时间还很近（一秒粒度的文件系统上
同一秒的两次保存），才读出内容比较摘要，内容真的变了才重新载入。文件不见了（编辑器先删再写）先等一个周期，
一直不在才报告。配置文件没变、但绘图函数所在的模块改了时，也按现在的内容重新载入（drawing.changed_modules）。
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from livechart import configfile
from livechart import drawing
from livechart.configfile import ConfigRef
from livechart.configfile import Loaded
from livechart.spec import ConfigError

log = logging.getLogger("livechart")

# 监视的周期（秒）：保存之后最多这么久开始载入。每次只是一个 stat（bench/reload.py 测量了开销）
POLL_SECONDS = 0.5
# 修改时间离现在这么近（秒）时，即使 stat 没变也比较内容：修改时间只精确到秒的文件系统上，同一秒里的第二次保存
# 可能与第一次的 stat 完全相同
RECENT_SECONDS = 2.0
# 修改时间离现在不到这么久（秒）时先不读：编辑器可能正写到一半（先截断、再写），读到的是半个文件
SETTLE_SECONDS = 0.2


class Watcher:
    """一个配置文件的监视。reload(内容) 与 fail(消息) 由重新载入器给出，返回 poll 的结果（"applied"、"failed"）。"""

    def __init__(self, ref: ConfigRef, loaded: Loaded | None, reload: Callable[[bytes], str], fail: Callable[[str], str]) -> None:
        assert ref.path is not None
        self.ref = ref
        self.path = ref.path
        self.reload = reload
        self.fail = fail
        # 载入时的内容摘要与读之前的 signature：启动期间（预热时）的保存，第一次 poll 就会发现
        self.digest = loaded.digest if loaded else ""
        self.signature = loaded.signature if loaded else None
        # 配置文件不见了的时刻（monotonic）：编辑器先删再写时只是一瞬间；报告过之后不再重复
        self.missing_since: float | None = None
        self.missing_reported = False
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """启动监视线程（只启动一个）。"""
        if self.thread is not None:
            return
        self.thread = threading.Thread(target=self._watch, name="livechart-reload", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """停止监视线程。"""
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=2)

    @property
    def watching(self) -> bool:
        """监视线程在运行。"""
        return self.thread is not None and self.thread.is_alive()

    def seen(self) -> None:
        """当作已经看过文件现在的内容（有错的内容：改好之前不再重复报告）。"""
        with contextlib.suppress(ConfigError):
            self.digest = configfile.digest(configfile.read(self.ref))
        self.signature = configfile.signature(self.path)

    def forget(self) -> None:
        """下一次 poll 一定重新读、重新载入（应用到一半出错之后重试）。"""
        self.digest, self.signature = "", None

    def _watch(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            try:
                self.poll()
            except Exception:
                log.exception("检查配置文件失败")

    def poll(self) -> str | None:
        """看一次配置文件；内容变了就重新载入。返回 "applied"、"failed"，没有变化时为 None。"""
        with self.lock:
            signature = configfile.signature(self.path)
            age = time.time() - signature[2] / 1e9 if signature is not None else None
            if signature == self.signature and not (age is not None and age < RECENT_SECONDS):
                return self._draw_modules()
            if age is not None and age < SETTLE_SECONDS:
                return None  # 可能正写到一半（先截断再写的编辑器）：下一次再看
            self.signature = signature
            if signature is None:
                return self._missing()
            self.missing_since, self.missing_reported = None, False
            try:
                data = configfile.read(self.ref)
            except ConfigError as exc:
                return self.fail(str(exc))
            digest = configfile.digest(data)
            if digest == self.digest:
                return self._draw_modules(data)
            self.digest = digest
            return self.reload(data)

    def _missing(self) -> str | None:
        """文件不在：编辑器先删再写时等文件回来；一直不在（超过一个周期）才报告，只报告一次。已持有 self.lock。"""
        if self.missing_since is None:
            self.missing_since = time.monotonic()
            self.signature = ("missing",)  # type: ignore[assignment]  # 下一次 poll 再看
        elif not self.missing_reported:
            self.missing_reported = True
            self.digest = ""  # 文件回来时即使内容相同也重新载入（清掉错误）
            return self.fail(configfile.unreadable(self.ref, "No such file or directory"))
        return None

    def _draw_modules(self, data: bytes | None = None) -> str | None:
        """配置文件没变，但绘图函数所在的模块改了：按现在的配置文件重新载入，用到改了的函数的图表换新的绘制器
        （规格里记着模块内容的摘要，见 drawing.DrawSpec.code）。已持有 self.lock。"""
        if not drawing.changed_modules(SETTLE_SECONDS) or not self.digest:
            return None
        try:
            return self.reload(configfile.read(self.ref) if data is None else data)
        except ConfigError as exc:
            return self.fail(str(exc))
