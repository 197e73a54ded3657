"""一个图表的失败日志：状态改变时写一次，持续失败时每分钟最多一行摘要。

一直失败的图表若每个节拍都写一段堆栈，日志很快就被淹没，真正的新问题反而看不见。所以：
- 开始失败（或失败的原因换了一种异常）时写一次：输入暂时不在（InputUnavailable）或取数超时写一行警告，
  其他异常写完整堆栈；
- 仍在失败时，距上一行至少 summary_seconds 秒才写一行摘要（这段时间又失败了几次、最近的消息）；
- 恢复时写一行。
本模块不导入 Flask：日志器由调用方传入，时钟可注入（测试用）。
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from livechart.deadline import FetchTimeout
from livechart.durations import spoken
from livechart.sources import InputUnavailable

# 持续失败时两行摘要之间至少间隔的秒数
SUMMARY_SECONDS = 60.0


@dataclass
class FailureLog:
    """一个图表的失败状态与日志节流（每个进程、每个图表一个）。"""

    chart: str
    summary_seconds: float = SUMMARY_SECONDS
    clock: Callable[[], float] = field(default=time.monotonic)
    # 正在失败时：开始失败的时刻、当前失败的异常类型、总失败次数、上一行日志之后的失败次数与时刻
    since: float | None = None
    kind: str | None = None
    total: int = 0
    unreported: int = 0
    last_line: float = 0.0

    def failed(self, exc: BaseException, logger: logging.Logger) -> None:
        """记录一次失败；只在开始失败、换了原因或到了摘要时间时写日志。"""
        now = self.clock()
        kind = type(exc).__name__
        if self.since is None or kind != self.kind:
            if self.since is None:
                self.since, self.total = now, 0
            self.kind, self.unreported, self.last_line = kind, 0, now
            self.total += 1
            if isinstance(exc, InputUnavailable | FetchTimeout):
                # 输入不在、取数超时：原因已经说清楚了，堆栈（卡在哪一行）对使用者没有帮助
                logger.warning("图表 %s 的输入暂时不可用：%s；每个间隔重试", self.chart, exc)
            else:
                logger.error("图表 %s 重绘失败", self.chart, exc_info=exc)
            return
        self.total += 1
        self.unreported += 1
        if now - self.last_line >= self.summary_seconds:
            logger.warning(
                "图表 %s 仍在失败：已持续 %s，上次记录后又失败 %d 次；最近一次：%s: %s",
                self.chart, spoken(now - self.since), self.unreported, kind, exc,
            )  # fmt: skip
            self.unreported, self.last_line = 0, now

    def recovered(self, logger: logging.Logger) -> None:
        """成功绘制：若之前在失败，写一行恢复日志并清除失败状态。"""
        if self.since is None:
            return
        logger.warning("图表 %s 已恢复：失败了 %d 次，持续 %s", self.chart, self.total, spoken(self.clock() - self.since))
        self.since = self.kind = None
        self.total = self.unreported = 0

    @property
    def failing(self) -> bool:
        """本进程看到的这个图表是否正在失败。"""
        return self.since is not None
