"""livechart 的配置类：缓存类型、图表（CHARTS）、调度任务（JOBS）与安全设置。

由环境变量 LIVECHART_CONFIG 选择：development（默认）、testing、production，
或任意 "包.模块:类" 路径。环境变量在导入本模块时读取一次。
"""

import os


def _env(name: str, default: str | None = None) -> str | None:
    """读取环境变量；空字符串视为未设置。"""
    value = os.environ.get(name, "").strip()
    return value or default


class Config:
    """所有环境共用的默认配置。"""

    # --- 服务地址 ---
    LIVECHART_HOST = _env("LIVECHART_HOST", "127.0.0.1")
    # 在 create_app 中校验并转换为整数，错误时给出指明设置的消息
    LIVECHART_PORT = _env("LIVECHART_PORT", "5000")

    # --- 图表：名称 → 规格；第一个图表即 /plot.png 的默认图表 ---
    CHARTS = {
        "cpu": {
            "title": "本机 CPU 与内存使用率",
            "source": {"type": "system", "metrics": ["cpu", "memory"]},
            "series": {"cpu": "CPU", "memory": "内存"},
            "ylabel": "使用率",
            "unit": "percent",
            "ylim": [0, 100],
            "annotate_last": True,
            "window": 300,
            "size": [800, 400],
            "dpi": 100,
        },
        "demo": {
            "title": "模拟信号（正弦 + 噪声与随机游走）",
            "source": {"type": "demo", "seed": 42, "period": 60},
            "series": {"signal": "信号", "walk": "随机游走"},
            "ylabel": "数值",
            "window": 300,
            "size": [800, 400],
            "dpi": 100,
        },
    }

    # --- 调度任务：每个图表一个 redraw-<name> 间隔任务；改 seconds 即改刷新间隔 ---
    JOBS = [
        {
            "id": "redraw-cpu",
            "func": "livechart.jobs:redraw",
            "kwargs": {"chart": "cpu"},
            "trigger": "interval",
            "seconds": 2,
        },
        {
            "id": "redraw-demo",
            "func": "livechart.jobs:redraw",
            "kwargs": {"chart": "demo"},
            "trigger": "interval",
            "seconds": 1,
        },
    ]

    # livechart 不接收上传：请求体最多 64 KiB（超出返回 413 JSON）
    MAX_CONTENT_LENGTH = 64 * 1024

    # --- Flask-APScheduler ---
    SCHEDULER_API_ENABLED = True
    SCHEDULER_API_PREFIX = "/scheduler"
    SCHEDULER_TIMEZONE = "UTC"
    # 与 APScheduler 默认值一致，但写明：同一图表的计划运行不叠加，错过的合并为一次
    SCHEDULER_JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 5}
    # 慢的数据源只占住自己的线程，不阻塞其他图表（APScheduler 默认 10 个线程）
    SCHEDULER_EXECUTORS = {"default": {"type": "threadpool", "max_workers": 20}}

    # --- Flask-Caching：嵌入式默认（单进程内存）；注意大写的 "SimpleCache" ---
    # 设置了 LIVECHART_REDIS_URL 时，每个配置（测试配置除外）都用这个共享的 Redis：
    # 设了 Redis 地址却悄悄用每个进程各自一份的缓存，多个进程就各画各的
    LIVECHART_REDIS_URL = _env("LIVECHART_REDIS_URL")
    CACHE_TYPE = "RedisCache" if LIVECHART_REDIS_URL else "SimpleCache"
    CACHE_REDIS_URL = LIVECHART_REDIS_URL
    CACHE_KEY_PREFIX = "livechart:"
    # 默认不过期：Flask-Caching 的默认 300 秒会让版本计数器（cache.inc）过期归零
    CACHE_DEFAULT_TIMEOUT = 0

    # --- livechart 自身的设置 ---
    # 调度器：running（启动）、paused（启动但不自动运行任务，测试用）、off（不启动）
    LIVECHART_SCHEDULER = "running"
    # 保存本文件（或 LIVECHART_CONFIG 指定的模块）后两秒内自动重新载入，不用重启（docs/reload.md）
    LIVECHART_RELOAD = True
    # 启动时先把每个图表画一遍，第一个请求就能拿到图片
    LIVECHART_WARM_CACHE = True
    # 预热最多等待的秒数；慢的数据源在后台继续，不拖住启动
    LIVECHART_WARM_TIMEOUT = 5
    # 任务间隔的下限（秒）；/scheduler API 只能显示整秒，所以间隔必须是整秒
    LIVECHART_MIN_INTERVAL = 1
    # 任务间隔的上限（秒，最多 366 天）；配置的 JOBS 与 /scheduler API 都不能超过它
    LIVECHART_MAX_INTERVAL = 86400
    # 进程的角色：all（调度并渲染，也提供图片与 API），web（只从 Redis 提供图片与状态，不运行任务；
    # 需要 Redis 缓存，且没有 /scheduler API——在任一 all 进程上控制任务）
    LIVECHART_ROLE = _env("LIVECHART_ROLE", "all")
    # 多进程（Redis）时，每个进程把 Redis 中的期望任务状态应用到本地调度器的周期（秒）
    LIVECHART_RECONCILE_SECONDS = 0.5
    # 多进程（Redis）时图片请求走快速路径（livechart/fastpath.py）：直接发出本进程副本的现成响应
    LIVECHART_FAST_PATH = True
    # 在这么多个绘制进程里绘制（0：在本进程的调度器线程里绘制；make run 启动最快）。生产配置默认 1（见下）。
    # 见 livechart/pool.py 与 bench/README.md
    LIVECHART_RENDER_PROCESSES = _env("LIVECHART_RENDER_PROCESSES", "0")
    # 一次取数的总期限（秒），用于没有自己 timeout 选项的数据源（python、csv、system……）；
    # 超时报告在状态里，卡住的调用不占用任务线程（livechart/deadline.py）
    LIVECHART_FETCH_TIMEOUT = 10
    # 时间比服务器时钟晚这么多秒以上的行（写入方的时钟或时区错了）丢弃并计数，不进滚动窗口；
    # None 表示保留（画预测值的图表）。见 livechart/quality.py
    LIVECHART_FUTURE_MARGIN = 300
    # 等待同一图表上一次重绘结束的最长时间（秒）
    LIVECHART_RENDER_TIMEOUT = 30
    # PNG 压缩级别（0–9）；1 比 9 快约一倍，文件只大约 3 %
    LIVECHART_PNG_COMPRESS_LEVEL = 1
    # 额外的中日韩字体文件路径（优先于自动检测到的字体）
    LIVECHART_CJK_FONTS: list[str] = []
    # /scheduler API 的 HTTP Basic 凭据；未设置时仅开发环境的本机回环客户端可用
    LIVECHART_API_USER = _env("LIVECHART_API_USER")
    LIVECHART_API_PASSWORD = _env("LIVECHART_API_PASSWORD")
    # 未设置凭据时，是否允许本机回环地址免认证访问 /scheduler
    LIVECHART_API_LOOPBACK_WITHOUT_AUTH = False
    # 图片的 Cross-Origin-Resource-Policy：same-origin、same-site，或 cross-origin（允许别的网站用 <img> 嵌入）
    LIVECHART_IMAGE_CORP = _env("LIVECHART_IMAGE_CORP", "same-site")
    # 为真时缺少 API 凭据就拒绝启动（生产环境）
    LIVECHART_REQUIRE_API_AUTH = False


class DevelopmentConfig(Config):
    """开发环境：嵌入式缓存，调度器在同一进程；本机可免认证访问 /scheduler。"""

    LIVECHART_API_LOOPBACK_WITHOUT_AUTH = True


class TestingConfig(Config):
    """测试环境：调度器以暂停状态启动，测试通过 run 接口或直接调用任务来驱动。"""

    TESTING = True
    # 测试自己启动 redis-server 并显式传入：开发者环境里的 LIVECHART_REDIS_URL 不影响测试
    CACHE_TYPE = "SimpleCache"
    CACHE_REDIS_URL = None
    LIVECHART_SCHEDULER = "paused"
    LIVECHART_API_LOOPBACK_WITHOUT_AUTH = True
    # 测试自己调用 reload.get(app).poll()，不开监视线程
    LIVECHART_RELOAD = False


class ProductionConfig(Config):
    """生产环境：必须设置 API 凭据；设置 LIVECHART_REDIS_URL 时使用共享的 Redis 缓存（与所有配置一样）。"""

    LIVECHART_REQUIRE_API_AUTH = True
    # 每个工作进程一个绘制进程（从 forkserver 启动，livechart/pool.py）：提供图片的线程抢不到绘制的 GIL，
    # 饱和的图片负载下新图也按时到达（bench/README.md 的 freshness 与 start-up）；0 表示在工作进程里绘制
    LIVECHART_RENDER_PROCESSES = _env("LIVECHART_RENDER_PROCESSES", "1")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
