"""python -m livechart：用 Flask 自带的服务器启动（不使用重载器）。"""

import signal
import sys
from types import FrameType

from livechart import ConfigError
from livechart import create_app
from livechart import logs
from livechart import shutdown

# SIGTERM 之后最多这么久进程一定退出（测试与 README 承诺 5 秒内）
EXIT_SECONDS = 3


def _stop(signum: int, frame: FrameType | None) -> None:
    """SIGTERM 与 Ctrl+C 一样：服务器停止接受请求并退出（状态 0）。"""
    raise KeyboardInterrupt


def main() -> int:
    """启动服务；配置错误时打印一条指明原因的消息并以 2 退出。"""
    logs.configure()
    try:
        app = create_app()
    except ConfigError as exc:
        print(f"livechart：配置错误：{exc}", file=sys.stderr)
        return 2
    host, port = app.config["LIVECHART_HOST"], app.config["LIVECHART_PORT"]
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in shown:  # IPv6 地址在 URL 里要加方括号
        shown = f"[{shown}]"
    app.logger.info("livechart 已启动，请打开 http://%s:%d/", shown, port)
    signal.signal(signal.SIGTERM, _stop)
    # 重载器会再启动一个进程和一个调度器；调试器会把堆栈暴露给客户端：两者都关闭
    try:
        app.run(host=host, port=port, use_reloader=False, threaded=True, use_debugger=False)
    finally:
        # 卡住的数据源不能让进程不退出：最迟 EXIT_SECONDS 秒后结束进程（其余各步见 livechart/shutdown.py）
        shutdown.stop(app, exit_within=EXIT_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
