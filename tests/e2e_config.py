"""端到端测试的配置：与开发配置相同，只是每个图表每秒重绘一次。"""

import os

from config import DevelopmentConfig
from config import ProductionConfig


class E2EConfig(DevelopmentConfig):
    """每秒重绘一次，测试不用久等。"""

    JOBS = [
        {"id": "redraw-cpu", "func": "livechart.jobs:redraw", "kwargs": {"chart": "cpu"}, "trigger": "interval", "seconds": 1},
        {"id": "redraw-demo", "func": "livechart.jobs:redraw", "kwargs": {"chart": "demo"}, "trigger": "interval", "seconds": 1},
    ]


class ProductionE2EConfig(ProductionConfig):
    """生产配置（Redis 来自 LIVECHART_REDIS_URL），每秒重绘一次。"""

    JOBS = E2EConfig.JOBS


class FlakyE2EConfig(E2EConfig):
    """多一个图表 flaky：LIVECHART_TEST_FLAG 指向的文件存在时它的数据源失败。"""

    CHARTS = {
        **E2EConfig.CHARTS,
        "flaky": {
            "title": "flaky",
            "source": {
                "type": "python",
                "callable": "tests.flaky_source:reading",
                "kwargs": {"flag": os.environ.get("LIVECHART_TEST_FLAG", "/nonexistent/flag")},
                "columns": ["value"],
            },
        },
    }
    JOBS = [
        *E2EConfig.JOBS,
        {
            "id": "redraw-flaky",
            "func": "livechart.jobs:redraw",
            "kwargs": {"chart": "flaky"},
            "trigger": "interval",
            "seconds": 1,
        },
    ]


class HungE2EConfig(E2EConfig):
    """多一个图表 hung：它的数据源永远不返回；取数期限 2 秒。"""

    LIVECHART_FETCH_TIMEOUT = 2
    CHARTS = {
        **E2EConfig.CHARTS,
        "hung": {"title": "hung", "source": {"type": "python", "callable": "tests.hung_source:forever", "columns": ["v"]}},
    }
    JOBS = [
        *E2EConfig.JOBS,
        {"id": "redraw-hung", "func": "livechart.jobs:redraw", "kwargs": {"chart": "hung"}, "trigger": "interval", "seconds": 1},
    ]


CSV = os.environ.get("LIVECHART_TEST_CSV", "/nonexistent/quality.csv")
DB = os.environ.get("LIVECHART_TEST_DB", "/nonexistent/quality.db")


def _job(chart: str) -> dict:
    return {"id": f"redraw-{chart}", "func": "livechart.jobs:redraw", "kwargs": {"chart": chart}, "trigger": "interval",
            "seconds": 1}  # fmt: skip


class DataQualityE2EConfig(DevelopmentConfig):
    """demo 之外：一个 CSV 文件（log）与一个 SQLite 库（orders），路径来自环境变量；窗口 120 秒，每秒重绘一次。"""

    CHARTS = {
        "demo": {"title": "模拟", "source": {"type": "demo", "seed": 1}},
        "log": {"title": "CSV", "source": {"type": "csv", "path": CSV, "time": "time", "columns": ["v"]}, "window": "120s"},
        "orders": {
            "title": "SQLite",
            "source": {
                "type": "sql",
                "url": f"sqlite:///{DB}",
                "query": "SELECT at, v FROM readings WHERE at > :since ORDER BY at",
                "time": "at",
                "columns": ["v"],
            },
            "window": "120s",
        },
    }
    JOBS = [_job(chart) for chart in CHARTS]


class FutureRowE2EConfig(E2EConfig):
    """多一个图表 future：它的数据源每次都带一行 2099 年的数据（会被丢弃并计数）。"""

    CHARTS = {
        **E2EConfig.CHARTS,
        "future": {"title": "future", "source": {"type": "python", "callable": "tests.future_source:rows"}, "series": ["v"]},
    }
    JOBS = [
        *E2EConfig.JOBS,
        {
            "id": "redraw-future",
            "func": "livechart.jobs:redraw",
            "kwargs": {"chart": "future"},
            "trigger": "interval",
            "seconds": 1,
        },
    ]


class LongIntervalE2EConfig(E2EConfig):
    """间隔上限放宽到一年，demo 每小时才重绘一次（测试页面对很长间隔的处理）：启动时画好第一版之后，
    测试期间 demo 只有测试自己要求的重绘，页面该请求几次图片是确定的。"""

    LIVECHART_MAX_INTERVAL = 366 * 86400
    JOBS = [E2EConfig.JOBS[0], {**E2EConfig.JOBS[1], "seconds": 3600}]


def _stall_chart() -> dict:
    folder = os.environ.get("LIVECHART_TEST_STALL_DIR", "/nonexistent")
    return {"title": "stall", "source": {"type": "python", "callable": "tests.stall_source:reading", "kwargs": {"folder": folder},
            "columns": ["v"]}}  # fmt: skip


class ServiceE2EConfig(ProductionE2EConfig):
    """多进程的测试：cpu、demo 之外多一个图表 stall（目录里有 stall-<pid> 文件时那个进程的取数卡住）；取数期限 3 秒。"""

    LIVECHART_FETCH_TIMEOUT = 3
    CHARTS = {**ProductionConfig.CHARTS, "stall": _stall_chart()}
    JOBS = [*ProductionE2EConfig.JOBS, _job("stall")]


class ManyChartsE2EConfig(ProductionConfig):
    """20 个每 2 秒重绘一次的小图表：看所有权是否分散在各个进程之间。"""

    CHARTS = {f"c{n:02d}": {"title": f"c{n:02d}", "size": [320, 160], "source": {"type": "demo"}} for n in range(20)}
    JOBS = [{**_job(chart), "seconds": 2} for chart in CHARTS]


class DisagreeingE2EConfig(ServiceE2EConfig):
    """与 ServiceE2EConfig 只差 demo 的间隔（2 秒）：几个进程的 config.py 不一致时要有警告。"""

    JOBS = [{**job, "seconds": 2} if job["id"] == "redraw-demo" else job for job in ServiceE2EConfig.JOBS]


class DrawErrorE2EConfig(E2EConfig):
    """多一个 draw 图表 fragile：LIVECHART_TEST_BREAK 指向的文件存在时它的绘图函数出错。"""

    CHARTS = {**E2EConfig.CHARTS, "fragile": {"title": "fragile", "draw": "tests.draw_functions:broken"}}
    JOBS = [*E2EConfig.JOBS, _job("fragile")]
