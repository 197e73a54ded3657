"""WSGI 入口（gunicorn livechart.wsgi:app）：每个工作进程导入时创建自己的 app 与调度器。"""

from livechart import create_app
from livechart import logs

logs.configure()
app = create_app()
