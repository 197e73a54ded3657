"""系统仪表盘：CPU（总体与每核）、内存与交换分区、负载、网络与磁盘吞吐。

运行：LIVECHART_CONFIG=examples.system make run
"""

from config import DevelopmentConfig


class Config(DevelopmentConfig):
    """本机的系统仪表盘。"""

    CHARTS = {
        "cpu": {
            "title": "CPU 使用率（总体与每核）",
            "source": {"type": "system", "metrics": ["cpu", "cpu_cores"]},
            "unit": "percent",
            "ylim": [0, 100],
            "window": "5min",
            "annotate_last": True,
        },
        "memory": {
            "title": "内存与交换分区",
            "source": {"type": "system", "metrics": ["memory", "swap"]},
            "kind": "area",
            "unit": "percent",
            "ylim": [0, 100],
            "window": "10min",
        },
        "load": {
            "title": "系统负载",
            "source": {"type": "system", "metrics": ["load"]},
            "kind": "step",
            "window": "10min",
            "annotate_last": True,
        },
        "network": {
            "title": "网络吞吐",
            "source": {"type": "system", "metrics": ["net"]},
            "series": {"net_recv": "接收", "net_sent": "发送"},
            "kind": "area",
            "stacked": True,
            "unit": "bytes/s",
            "window": "5min",
        },
        "disk": {
            "title": "磁盘吞吐",
            "source": {"type": "system", "metrics": ["disk"]},
            "kind": "bar",
            "unit": "bytes/s",
            "window": 60,
            "theme": "dark",
        },
    }
    JOBS = [
        {"id": "redraw-cpu", "func": "livechart.jobs:redraw", "kwargs": {"chart": "cpu"}, "trigger": "interval", "seconds": 1},
        {
            "id": "redraw-memory",
            "func": "livechart.jobs:redraw",
            "kwargs": {"chart": "memory"},
            "trigger": "interval",
            "seconds": 2,
        },
        {"id": "redraw-load", "func": "livechart.jobs:redraw", "kwargs": {"chart": "load"}, "trigger": "interval", "seconds": 5},
        {
            "id": "redraw-network",
            "func": "livechart.jobs:redraw",
            "kwargs": {"chart": "network"},
            "trigger": "interval",
            "seconds": 1,
        },
        {"id": "redraw-disk", "func": "livechart.jobs:redraw", "kwargs": {"chart": "disk"}, "trigger": "interval", "seconds": 2},
    ]
