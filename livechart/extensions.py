"""未绑定的 Flask 扩展；在 create_app 中用 init_app 绑定。"""

from flask_apscheduler import APScheduler
from flask_caching import Cache

cache = Cache()
scheduler = APScheduler()
