"""安全头：每个响应都有；页面有 CSP；图片的跨源资源策略可配置。"""

from __future__ import annotations

from typing import Any

import pytest

from livechart import ConfigError


@pytest.mark.parametrize(
    "path", ["/", "/plot.png", "/api/charts", "/healthz", "/metrics", "/openapi.json", "/nope", "/scheduler/jobs"]
)
def test_every_response_has_security_headers(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_page_policy_allows_only_its_own_scripts(client: Any) -> None:
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


@pytest.mark.parametrize("value", ["same-origin", "same-site", "cross-origin"])
def test_image_corp_is_configurable(make_app: Any, value: str) -> None:
    app = make_app("testing", LIVECHART_IMAGE_CORP=value)
    assert app.test_client().get("/charts/demo.png").headers["Cross-Origin-Resource-Policy"] == value


def test_bad_corp_fails_fast(make_app: Any) -> None:
    with pytest.raises(
        ConfigError, match="LIVECHART_IMAGE_CORP 必须是 same-origin、same-site、cross-origin 之一，收到 'anywhere'"
    ):
        make_app("testing", LIVECHART_IMAGE_CORP="anywhere")
