"""文档：每个 LIVECHART_* 设置、每个路由都必须出现在两份 README 中。"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import ROOT

READMES = ["README.md", "README.zh-CN.md"]
# 代码中读取、但不在配置类里的环境变量
ENVIRONMENT_ONLY = {"LIVECHART_CONFIG", "LIVECHART_LOG_LEVEL", "LIVECHART_REDIS_URL", "LIVECHART_THREADS", "WEB_CONCURRENCY"}


def settings() -> set[str]:
    """config.py 与 livechart/ 中出现的全部 LIVECHART_* 名称。"""
    names = set(re.findall(r"\bLIVECHART_[A-Z_]+\b", (ROOT / "config.py").read_text()))
    for path in (ROOT / "livechart").glob("*.py"):
        names |= set(re.findall(r"\bLIVECHART_[A-Z_]+\b", path.read_text()))
    return names | ENVIRONMENT_ONLY


@pytest.mark.parametrize("readme", READMES)
def test_every_setting_is_documented(readme: str) -> None:
    text = (ROOT / readme).read_text()
    missing = sorted(name for name in settings() if name not in text)
    assert missing == [], f"{readme} does not mention {missing}"


@pytest.mark.parametrize("readme", READMES)
def test_every_route_is_documented(readme: str, app: Any) -> None:
    text = (ROOT / readme).read_text()
    rules = {re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", r.rule) for r in app.url_map.iter_rules() if r.endpoint != "static"}
    missing = sorted(rule for rule in rules if rule not in text)
    assert missing == [], f"{readme} does not mention routes {missing}"


@pytest.mark.parametrize("readme", READMES)
def test_readme_shows_the_two_commands(readme: str) -> None:
    text = (ROOT / readme).read_text()
    assert "make run" in text and "make test" in text


def test_screenshot_exists() -> None:
    for readme in READMES:
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / readme).read_text()):
            assert (ROOT / image).is_file(), f"{readme} links a missing image {image}"
