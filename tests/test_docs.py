"""文档：每个 LIVECHART_* 设置、每个路由都必须出现在两份 README 中。"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from tests.conftest import ROOT

READMES = ["README.md", "README.zh-CN.md"]
# 代码中读取、但不在配置类里的环境变量
ENVIRONMENT_ONLY = {"LIVECHART_CONFIG", "LIVECHART_LOG_LEVEL", "LIVECHART_REDIS_URL", "LIVECHART_THREADS", "WEB_CONCURRENCY"}


def settings() -> set[str]:
    """config.py 与 livechart/ 中出现的全部 LIVECHART_* 名称。"""
    names = set(re.findall(r"\bLIVECHART_[A-Z_]+\b", (ROOT / "config.py").read_text()))
    for path in (ROOT / "livechart").rglob("*.py"):
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


def tracked_text_files() -> list[str]:
    """仓库里受 git 管理的文本文件（相对路径）。"""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [name for name in listed if not name.endswith((".png", ".jpg", ".ico"))]


def test_repository_stands_alone() -> None:
    """代码与文档只引用仓库里的文件：不引用仓库外的 DESIGN.md 或 ../shared。"""
    offenders = [
        name
        for name in tracked_text_files()
        if name != "tests/test_docs.py" and re.search(r"DESIGN\.md|\.\./shared", (ROOT / name).read_text(errors="replace"))
    ]
    assert offenders == [], f"these files cite documents outside the repository: {offenders}"


def test_pitfall_citations_exist() -> None:
    """每处“docs/pitfalls.md 第 N 条 / pitfall N”引用的条目都存在。"""
    entries = {int(n) for n in re.findall(r"^(\d+)\. \*\*", (ROOT / "docs/pitfalls.md").read_text(), re.M)}
    assert entries == set(range(1, len(entries) + 1)), "pitfalls are numbered 1..N without gaps"
    cited: set[tuple[str, int]] = set()
    for name in tracked_text_files():
        text = (ROOT / name).read_text(errors="replace")
        for group in re.findall(r"pitfalls\.md(?: 第 |, pitfalls? )([\d、, ]+)", text):
            cited |= {(name, int(n)) for n in re.findall(r"\d+", group)}
    assert cited, "no citation found: the pattern is out of date"
    missing = sorted((name, n) for name, n in cited if n not in entries)
    assert missing == [], f"citations of pitfalls that do not exist: {missing}"
