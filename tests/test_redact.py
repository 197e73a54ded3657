"""公开状态不带数据源的机密：用户信息、查询串、请求头、连接细节只进日志。"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from livechart import jobs
from livechart.redact import public_message
from livechart.redact import scrub
from livechart.redact import secret_values


@pytest.mark.parametrize(
    ("message", "hidden", "kept"),
    [
        (
            "401 Client Error: Unauthorized for url: http://apiuser:hunter22@example.org:8080/data?api_key=topsecret&x=1",
            ["apiuser", "hunter22", "topsecret", "x=1"],
            ["401 Client Error", "http://example.org:8080/…?…"],
        ),
        (
            '(psycopg.OperationalError) connection failed: connection to server at "10.0.0.5", port 5433 failed: '
            'FATAL:  password authentication failed for user "app"\n(Background on this error at: https://sqlalche.me/e/20/e3q8)',
            ["10.0.0.5", "5433", '"app"', "sqlalche.me"],
            ["psycopg.OperationalError", "password authentication failed"],
        ),
        (
            '(psycopg.errors.UndefinedTable) relation "orders" does not exist [SQL: select * from orders where t > %(since)s]'
            ' [parameters: {"since": "2020-01-01", "token": "abc123"}]',
            ["[SQL", "abc123", "parameters"],
            ['relation "orders" does not exist'],
        ),
        (
            "HTTPConnectionPool(host='10.1.2.3', port=8080): Max retries exceeded with url: /data?api_key=zzzzz",
            ["10.1.2.3", "8080", "zzzzz"],
            ["Max retries exceeded"],
        ),
        ("dsn: dbname=prod user=admin password=s3cr3t host=db.internal", ["prod", "admin", "s3cr3t", "db.internal"], ["dsn"]),
        (
            "404 Client Error: Not Found for url: https://api.telegram.org/bot123456:AAHsecretTOKEN/getMe",
            ["AAHsecretTOKEN", "123456", "getMe"],
            ["https://api.telegram.org/…"],
        ),
        ('upstream said {"password": "hunter2", "user": "bob"}', ["hunter2", '"bob"'], ["upstream said"]),
        ("sent Authorization: Bearer tok-777777 and Cookie: session=abcdef; theme=dark", ["tok-777777", "abcdef"], ["sent"]),
        ("AWS_SECRET_ACCESS_KEY=abcdEFGH1234 is invalid", ["abcdEFGH1234"], ["is invalid"]),
    ],
)
def test_scrub_removes_credentials_and_connection_details(message: str, hidden: list[str], kept: list[str]) -> None:
    public = scrub(message)
    for secret in hidden:
        assert secret not in public, public
    for text in kept:
        assert text in public, public


def test_secrets_are_removed_as_whole_words_only() -> None:
    """用户 postgres 被抹掉，但列名 postgres_time 不被抹掉一半。"""
    assert scrub('user postgres: column "postgres_time" does not exist', ["postgres"]) == (
        'user …: column "postgres_time" does not exist'
    )


def test_every_secret_of_the_source_parameters_is_removed_verbatim() -> None:
    params = {
        "url": "https://bobby:pa55word@api.example.org/v1?key=k-123456",
        "headers": {"Authorization": "Bearer tok-98765", "X-Api-Key": "xk-55555"},
        "values": {"v": "data.0"},
    }
    secrets = secret_values(params)
    assert {"bobby", "pa55word", "k-123456", "Bearer tok-98765", "xk-55555"} <= set(secrets)
    # 机密出现在消息的任意位置（不只是 URL 里）也抹掉
    public = public_message(
        RuntimeError("server said: token tok-98765 for bobby rejected (xk-55555)"), "数据源 http_json", params
    )
    assert public.startswith("数据源 http_json：RuntimeError: ")
    for secret in ("tok-98765", "bobby", "xk-55555"):
        assert secret not in public, public


class Refusing(BaseHTTPRequestHandler):
    """一个总是回答 401 的接口（如凭据过期的真实 API）。"""

    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def refusing_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_public_routes_never_show_a_sources_secrets(make_app: Any, refusing_api: str, caplog: pytest.LogCaptureFixture) -> None:
    secrets = ["apiuser", "hunter22", "topsecret", "tok-31337"]
    charts = {
        "api": {
            "title": "API",
            "source": {
                "type": "http_json",
                "url": f"http://apiuser:hunter22@{refusing_api}/data?api_key=topsecret",
                "values": {"v": "value"},
                "headers": {"Authorization": "Bearer tok-31337"},
                "timeout": 5,
            },
        }
    }
    job = {"id": "redraw-api", "func": "livechart.jobs:redraw", "kwargs": {"chart": "api"}, "trigger": "interval", "seconds": 5}
    caplog.set_level(logging.ERROR)
    app = make_app("testing", CHARTS=charts, JOBS=[job], LIVECHART_WARM_CACHE=False)
    with app.app_context():
        jobs.redrawers()["api"].redraw()
    client = app.test_client()
    status = client.get("/api/charts/api").get_json()
    assert status["last_error"]["message"].startswith("数据源 http_json：HTTPError: 401 Client Error"), status
    for path in ("/api/charts", "/api/charts/api", "/healthz", "/", "/api/charts/api/data", "/openapi.json", "/metrics"):
        body = client.get(path).get_data(as_text=True)
        for secret in secrets:
            assert secret not in body, (path, secret, body[:500])
    # 完整的细节只在日志里
    assert "hunter22" in caplog.text


def test_postgresql_errors_show_no_user_host_or_port(make_app: Any, postgres_url: str) -> None:
    port = postgres_url.rsplit(":", 1)[1].split("/")[0]
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database_here"
    charts = {
        "orders": {
            "title": "orders",
            "source": {"type": "sql", "url": url, "query": "select now() as t, 1 as v", "time": "t", "columns": ["v"]},
        }
    }
    job = {
        "id": "redraw-orders",
        "func": "livechart.jobs:redraw",
        "kwargs": {"chart": "orders"},
        "trigger": "interval",
        "seconds": 5,
    }
    app = make_app("testing", CHARTS=charts, JOBS=[job], LIVECHART_WARM_CACHE=False)
    with app.app_context():
        jobs.redrawers()["orders"].redraw()
    message = app.test_client().get("/api/charts/orders").get_json()["last_error"]["message"]
    assert message.startswith("数据源 sql："), message
    for detail in (port, "127.0.0.1", "no_such_database_here", '"postgres"', "sqlalche.me"):
        assert detail not in message, (detail, message)
