"""/scheduler API 的守卫（docs/pitfalls.md 第 1 条）。

Flask-APScheduler 的 API 能运行任何可导入的函数，且一个用户只是访问的网页也能跨站发 POST。
因此：凭据（HTTP Basic，来自 LIVECHART_API_USER / LIVECHART_API_PASSWORD）或仅限本机回环；
修改类请求必须是同源的 JSON 对象；放行后由 livechart.control 执行修改（新增或修改任务只能指向
livechart 自己的重绘函数）；任何响应都不带堆栈或原始异常文本。
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from flask_apscheduler.auth import HTTPBasicAuth
from werkzeug.http import HTTP_STATUS_CODES

from livechart import control
from livechart.errors import INTERNAL_MESSAGE
from livechart.errors import json_error
from livechart.extensions import scheduler
from livechart.spec import ConfigError

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@scheduler.authenticate
def check_credentials(auth: Any) -> bool:
    """Flask-APScheduler 的认证回调：常量时间比较用户名和密码。"""
    config = current_app.config
    user, password = config.get("LIVECHART_API_USER"), config.get("LIVECHART_API_PASSWORD")
    if not (user and password and auth):
        return False
    # Flask-APScheduler 把 Basic 凭据按 latin-1 解码；curl 与浏览器发送的是 UTF-8（RFC 7617）。
    # 还原成原始字节，与设置的 UTF-8 字节比较：非 ASCII 的密码也能用
    sent_user = str(auth.get("username", "")).encode("latin-1", errors="replace")
    sent_password = str(auth.get("password", "")).encode("latin-1", errors="replace")
    return hmac.compare_digest(sent_user, user.encode()) & hmac.compare_digest(sent_password, password.encode())


def _is_loopback(address: str | None) -> bool:
    """地址（IP 或主机名）是否为本机回环。"""
    if address is None:
        return False
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def _loopback_client() -> bool:
    """请求是否真的来自本机上的本机用户。

    三个条件缺一不可：对端地址是回环；没有经过代理（同机的反向代理会让所有人都像回环）；
    Host 也是回环名——否则可能是 DNS 重绑定：恶意网页把自己的域名解析到 127.0.0.1，
    浏览器会把它的请求当作同源发来。
    """
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return _is_loopback(request.remote_addr) and _is_loopback(host)


def _cross_site() -> bool:
    """请求是否来自别的源（Origin 与本站不同，或浏览器标明 cross-site / same-site）。"""
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("Origin")
    return origin is not None and origin != request.host_url.rstrip("/")


def _authorize() -> Response | None:
    """认证：有凭据时要求 HTTP Basic；没有凭据时仅在允许时放行本机回环。"""
    config = current_app.config
    if config.get("LIVECHART_API_USER"):
        if check_credentials(scheduler.auth.get_authorization()):
            return None
        return json_error(
            401,
            "unauthorized",
            "没有提供凭据，或用户名、密码不对",
            # charset="UTF-8"：告诉浏览器按 UTF-8 编码凭据（RFC 7617）
            {"WWW-Authenticate": f'{scheduler.auth.get_authenticate_header()}, charset="UTF-8"'},
        )
    if config["LIVECHART_API_LOOPBACK_WITHOUT_AUTH"] and _loopback_client():
        return None
    return json_error(
        403, "forbidden", "不在本机的客户端访问 scheduler API 需要凭据：请设置 LIVECHART_API_USER 和 LIVECHART_API_PASSWORD"
    )


def _check_body() -> Response | None:
    """修改类请求：必须是 JSON 对象（可以为空）；然后交给 livechart.control 执行。"""
    if not request.is_json:
        return json_error(415, "unsupported_media_type", "请求体须是 JSON：请发送 Content-Type: application/json")
    data = request.get_data(cache=True)
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length is None and len(data) >= limit:
        # 分块传输（没有 Content-Length）的请求体被截在上限处：不是“JSON 无效”，而是太大
        return json_error(413, "request_entity_too_large", f"请求体超过了 {limit} 字节")
    try:
        body = json.loads(data) if data else {}
    except ValueError:
        return json_error(400, "bad_request", "请求体不是合法的 JSON")
    if not isinstance(body, dict):
        # Flask-APScheduler 的视图对非对象的请求体会出错（如 /scheduler/shutdown 调用 body.get）
        return json_error(400, "bad_request", f"请求体必须是 JSON 对象，收到的类型：{json_type(body)}")
    return control.perform((request.endpoint or "").removeprefix(scheduler.endpoint_prefix), body)


def json_type(value: Any) -> str:
    """JSON 值的类型名（给错误消息用）。"""
    if value is None:
        return "null"
    return {bool: "布尔值", list: "数组", str: "字符串"}.get(type(value), "数字")


def guard() -> Response | None:
    """在 Flask-APScheduler 的视图之前运行：同源 → 认证 → 任务存在 → 请求体 → 执行（livechart.control）。"""
    if not (request.endpoint or "").startswith(scheduler.endpoint_prefix):
        return None
    mutating = request.method not in SAFE_METHODS
    if mutating and _cross_site():
        return json_error(403, "forbidden", "拒绝跨站发往 scheduler API 的修改请求")
    denied = _authorize()
    if denied is not None:
        return denied
    # 别的进程刚做的修改先在这里生效：之后的检查与回答都基于整个服务的期望状态
    control.sync()
    job_id = (request.view_args or {}).get("job_id")
    if job_id is not None and scheduler.get_job(job_id) is None:
        return json_error(404, "not_found", f"任务 {job_id!r} 不存在")
    # APScheduler 在未运行时暂停/恢复会抛异常，Flask-APScheduler 把它变成 500
    toggles = (f"{scheduler.endpoint_prefix}pause_scheduler", f"{scheduler.endpoint_prefix}resume_scheduler")
    if request.endpoint in toggles and not scheduler.running:
        return json_error(409, "conflict", "调度器没有在运行：请先 POST /scheduler/start")
    return _check_body() if mutating else None


def scrub(response: Response) -> Response:
    """统一 Flask-APScheduler 视图的错误响应。

    它的视图出错时返回 {"error_message": str(e)}：5xx 换成通用消息（详情写日志），
    4xx 改成 livechart 统一的 {"error", "message"} 格式。livechart 自己的错误响应原样通过（如 Redis 不可用的 503）。
    """
    if not (request.endpoint or "").startswith(scheduler.endpoint_prefix) or response.status_code < 400:
        return response
    body = response.get_json(silent=True)
    if not (isinstance(body, dict) and "error_message" in body):
        return response
    if response.status_code >= 500:
        current_app.logger.error("scheduler API 出错 (%s %s): %s", request.method, request.path, response.get_data(as_text=True))
        return json_error(500, "internal_server_error", INTERNAL_MESSAGE)
    code = HTTP_STATUS_CODES.get(response.status_code, "error").lower().replace(" ", "_")
    return json_error(response.status_code, code, str(body["error_message"]))


def check_settings(config: Any) -> None:
    """校验 API 凭据的设置（livechart/settings.py 的 check 调用）；不合法时抛出指明设置的 ConfigError。"""
    user, password = config.get("LIVECHART_API_USER"), config.get("LIVECHART_API_PASSWORD")
    if bool(user) != bool(password):
        raise ConfigError("LIVECHART_API_USER 和 LIVECHART_API_PASSWORD 要么都设置，要么都不设置")
    if config.get("SCHEDULER_API_ENABLED") and config.get("LIVECHART_REQUIRE_API_AUTH") and not user:
        raise ConfigError(
            "没有设置 LIVECHART_API_USER / LIVECHART_API_PASSWORD：这个配置开放了 /scheduler API（它能运行代码），"
            "没有凭据时拒绝启动；请两个都设置（或设置 SCHEDULER_API_ENABLED = False）"
        )


def init_app(app: Flask) -> None:
    """注册守卫（设置由 livechart/settings.py 校验）；须在 scheduler.init_app 之前调用。"""
    config = app.config
    user = config.get("LIVECHART_API_USER")
    # 总是显式设置：模块级的 scheduler 会沿用上一个 app 的 auth 和允许的主机（init_app 用 config.get(…, self.auth)）
    config["SCHEDULER_AUTH"] = HTTPBasicAuth() if user else None
    config.setdefault("SCHEDULER_ALLOWED_HOSTS", ["*"])
    app.before_request(guard)
    app.after_request(scrub)
