"""最近一次载入配置的结果：载入错误、需要重启才生效的设置、最近一次重新载入的时间（/api/charts 与页面上的横幅）。

载入失败时正在运行的配置不动，错误写一行日志（与启动时的消息相同）并留在状态里，直到下一次有效的保存。
公开的消息去掉数据源的机密（与图表的错误一样，livechart/redact.py）。
"""

from __future__ import annotations

import logging
import time
from datetime import UTC
from datetime import datetime
from typing import Any

from livechart.redact import scrub
from livechart.redact import secret_values

log = logging.getLogger("livechart")


def iso(stamp: float | None) -> str | None:
    """epoch 秒 → ISO 8601（UTC）；None 原样。"""
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()


def new_file_secrets(charts: Any) -> list[str]:
    """新文件的 CHARTS 里数据源参数与绘图函数 kwargs 的机密原文（文件还没通过校验：能找到多少算多少）。"""
    found: list[str] = []
    if isinstance(charts, dict):
        for spec in charts.values():
            source = spec.get("source") if isinstance(spec, dict) else None
            if isinstance(source, dict):
                found += secret_values(source)
            draw = spec.get("draw") if isinstance(spec, dict) else None
            if isinstance(draw, dict) and isinstance(draw.get("kwargs"), dict):
                found += secret_values(draw["kwargs"])
    return found


class LoadStatus:
    """一个 app 的配置载入状态。"""

    def __init__(self) -> None:
        # 最近一次载入失败：{"message", "at", "secrets"}；有效的保存之后为 None
        self.error: dict[str, Any] | None = None
        # 改了、要重启才生效的设置
        self.restart: list[str] = []
        self.restart_at: float | None = None
        self.reloaded_at: float | None = None

    def failed(self, message: str, secrets: list[str] | None = None) -> str:
        """载入失败：记下错误并写一行日志（与启动时的消息相同）。secrets：新文件里数据源参数的机密原文
        （公开的消息里抹掉，与正在运行的图表的一样）。返回 poll 的结果 "failed"。"""
        self.error = {"message": message, "at": time.time(), "secrets": secrets or []}
        log.error("配置错误：%s（仍按上一份有效的配置运行，改好并保存后自动载入）", message)
        return "failed"

    def started_with(self, problem: str) -> None:
        """本进程是用上一份有效的内容启动的（gunicorn 重启的工作进程，配置文件现在载入不了）：报告它。"""
        self.error = {"message": problem, "at": time.time(), "secrets": []}
        log.error("配置错误：%s（本进程用主进程记得的上一份有效配置启动，改好并保存后自动载入）", problem)

    def needs_restart(self, restart: list[str]) -> None:
        """这些设置与启动时不同（只能在启动时生效）：变了才写日志。"""
        if restart == self.restart:
            return
        self.restart, self.restart_at = restart, time.time() if restart else None
        if restart:
            log.warning("配置文件改了 %s：这些设置要重启 livechart 才生效（正在运行的仍是启动时的值）", "、".join(restart))
        else:
            log.info("需要重启才生效的设置又与启动时相同了")

    def report(self, file: str | None, running_secrets: list[str], watching: bool) -> dict[str, Any]:
        """/api/charts 里的配置状态：监视的文件、最近一次载入，载入错误（config_error）与需要重启的设置。
        running_secrets：正在运行的图表的机密原文（公开的消息里抹掉）。"""
        error = None
        if self.error is not None:
            secrets = sorted({*running_secrets, *self.error["secrets"]}, key=len, reverse=True)
            error = {"message": scrub(self.error["message"], secrets), "at": iso(self.error["at"]), "file": file}
        restart = None
        if self.restart:
            restart = {
                "settings": list(self.restart),
                "message": f"{file} 里改了 {'、'.join(self.restart)}：要重启 livechart 才生效（gunicorn 下 kill -HUP 主进程即可）；"
                "正在运行的仍是启动时的值",
                "at": iso(self.restart_at),
            }
        return {
            "config": {"file": file, "watching": watching, "reloaded_at": iso(self.reloaded_at)},
            "config_error": error,
            "config_restart_needed": restart,
        }
