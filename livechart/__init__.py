"""livechart：让 Matplotlib 图表在内存里按时重画，通过 HTTP 提供。"""

# 必须在任何可能导入 pyplot 的代码之前选择 Agg（无界面、线程外可用）
import matplotlib

matplotlib.use("Agg")

from pathlib import Path
from typing import Any

from flask import Flask

from livechart import configfile
from livechart import reload
from livechart import startup
from livechart.spec import ConfigError
from livechart.startup import load_config
from livechart.startup import resolve_config

ROOT = Path(__file__).resolve().parent.parent
# 没有设置 LIVECHART_CONFIG 时 WSGI 入口（gunicorn）用的配置；gunicorn_config.py 在主进程里检查的也是它
WSGI_CONFIG = "production"
__all__ = ["ConfigError", "create_app", "load_config", "resolve_config"]


def create_app(
    config: Any = None, overrides: dict[str, Any] | None = None, *, default: str = "development", fallback: bool = False
) -> Flask:
    """应用工厂：载入并校验配置，按顺序绑定扩展、注册路由，预热缓存，启动调度器（各步见 livechart/startup.py）。

    config：配置类，或 LIVECHART_CONFIG 那样的名字；None 时取 LIVECHART_CONFIG，没有设置时取 default。
    fallback：配置文件现在载入不了时用本进程记得的上一份有效内容启动并报告错误（gunicorn 的工作进程，见 load_config）。
    """
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    config_class, ref, loaded, problem = load_config(config, default, fallback=fallback)
    # 原样的设置（重新载入时与新的比较，见 livechart/reload.py）
    raw = configfile.raw_config(config_class, overrides)
    checked = startup.configure(app, config_class, overrides)
    startup.bind(app, checked)
    startup.start(app)
    reload.init_app(app, ref, overrides, raw, loaded, problem)
    app.logger.info("%s", startup.describe(app, config_class))
    return app
