"""可复现的模拟数据源。"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from typing import ClassVar

import numpy as np
import pandas as pd

from livechart.sources.base import Source
from livechart.sources.base import SourceError
from livechart.sources.base import positive
from livechart.sources.base import require
from livechart.sources.frames import now


class DemoSource(Source):
    """可复现的模拟序列：正弦加噪声（signal）与随机游走（walk）。

    数值只取决于种子和第几个点，与墙上时间无关，测试可以断言具体数值。
    窗口为空时（首次启动）可以按任务间隔回填整个窗口，页面一打开就有完整曲线。
    """

    LABELS: ClassVar[dict[str, str]] = {"signal": "信号", "walk": "随机游走"}

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        require(params, {"seed", "period", "noise"})
        seed = params.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise SourceError(f"数据源参数 'seed' 必须是 0 到 4294967295 之间的整数，收到 {seed!r}")
        return {"seed": seed, "period": positive(params, "period", 60, 1e6), "noise": positive(params, "noise", 0.1, 10)}

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
