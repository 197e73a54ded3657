"""WSGI 入口（gunicorn livechart.wsgi:app）：每个工作进程导入时创建自己的 app 与调度器。

没有设置 LIVECHART_CONFIG 时这里用 production 配置，而不是 python -m livechart 的 development：
直接运行 `gunicorn livechart.wsgi:app` 的人是在部署，不能悄悄用上每个进程各自一份的缓存和免认证的本机 API。
production 配置要求 API 凭据，设置了 LIVECHART_REDIS_URL 时用共享的 Redis（每个配置类都如此，见 config.py）。
"""

import sys

from livechart import WSGI_CONFIG
from livechart import ConfigError
from livechart import create_app
from livechart import logs

logs.configure()
try:
    # fallback：配置文件正好有错时，被重启的工作进程用主进程记得的上一份有效配置启动（并报告错误），不让整个服务器停下
    app = create_app(default=WSGI_CONFIG, fallback=True)
except ConfigError as exc:
    # 一行指明原因，而不是一段堆栈；退出码 4 让 gunicorn 的主进程停下（"App failed to load"），不反复重启工作进程
    print(f"livechart：配置错误：{exc}", file=sys.stderr, flush=True)
    raise SystemExit(4) from None
