"""端到端测试的配置：与开发配置相同，只是每个图表每秒重绘一次。"""

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
