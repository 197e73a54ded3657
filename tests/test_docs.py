"""文档：每个 LIVECHART_* 设置、每个路由都必须出现在两份 README 中。"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config import Config
from livechart import ConfigError
from livechart import create_app
from livechart import jobs
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


def linked_images(readme: str) -> list[str]:
    """README 链接的图片：Markdown 的 ![…](路径) 与 HTML 的 <img src="路径">。"""
    text = (ROOT / readme).read_text()
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text) + re.findall(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", text)


@pytest.mark.parametrize("readme", READMES)
def test_readme_shows_a_screenshot(readme: str) -> None:
    """每份 README 至少链接一张 static/ 下的截图，链接的每张图片都存在。"""
    images = linked_images(readme)
    missing = [image for image in images if not (ROOT / image).is_file()]
    assert missing == [], f"{readme} links missing images {missing}"
    screenshots = [image for image in images if image.startswith("static/") and image.endswith(".png")]
    assert screenshots, f"{readme} links no screenshot under static/ (found {images})"


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


def test_every_module_is_on_the_map() -> None:
    """docs/layout.md 是给新人的地图：livechart/ 里的每个模块都要在上面（新加的模块没写进去就失败）。"""
    layout = (ROOT / "docs" / "layout.md").read_text()
    package = ROOT / "livechart"
    modules = [path.relative_to(package) for path in package.glob("*.py")]
    missing = [str(module) for module in modules if f"`{module}`" not in layout]
    if "`sources/`" not in layout:
        missing.append("sources/")
    assert missing == [], f"docs/layout.md does not name: {missing}"


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


# README 里的错误消息示例由这些错误配置产生：(说明, 配置覆盖项)
BAD_CONFIGS = [
    ("misspelled chart option", {"CHARTS": {"cpu": {**Config.CHARTS["cpu"], "windw": 5}}}),
    ("interval below the minimum", {"JOBS": [{**Config.JOBS[0], "seconds": 0.5}, *Config.JOBS[1:]]}),
    (
        "production without credentials",
        {"LIVECHART_REQUIRE_API_AUTH": True, "LIVECHART_API_USER": None, "LIVECHART_API_PASSWORD": None},
    ),
]


def real_messages() -> list[str]:
    """用 BAD_CONFIGS 真正启动一次得到的消息，写成 python -m livechart 与 WSGI 入口打印的样子。"""
    messages = []
    for _, overrides in BAD_CONFIGS:
        with pytest.raises(ConfigError) as caught:
            create_app("testing", overrides)
        messages.append(f"livechart：配置错误：{caught.value}")
    return messages


def matches(example: str, message: str) -> bool:
    """示例与真实消息一致：示例里的 … 代表省略的一段，其余部分按顺序逐字出现。"""
    pattern = ".*?".join(re.escape(part) for part in example.split("…"))
    return re.search(pattern + ("" if example.endswith("…") else "$"), message) is not None


@pytest.mark.parametrize("readme", READMES)
def test_error_message_examples_are_the_real_messages(readme: str) -> None:
    examples = re.findall(r"`((?:livechart：)?配置错误：[^`]+)`", (ROOT / readme).read_text())
    assert len(examples) >= 3, "the README's error examples were not found"
    messages = real_messages()
    wrong = [example for example in examples if not any(matches(example, message) for message in messages)]
    assert wrong == [], f"{readme} shows messages livechart does not print: {wrong}\nreal: {messages}"


def readme_snippet(readme: str, english: str = "### Adding a chart", chinese: str = "### 添加图表") -> str:
    """README 某一节（默认“添加图表 / Adding a chart”）里的第一个 Python 代码块。"""
    text = (ROOT / readme).read_text()
    start = text.index(english if readme == "README.md" else chinese)
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


@pytest.mark.parametrize("readme", READMES)
def test_adding_a_chart_snippet_runs_as_pasted(
    readme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_app: Any
) -> None:
    (tmp_path / "myconf.py").write_text(readme_snippet(readme))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "myconf", raising=False)
    app = make_app("myconf:MyConfig", LIVECHART_SCHEDULER="paused")
    with app.app_context():
        assert jobs.ensure_image("swap") is not None
    assert app.test_client().get("/charts/swap.png").status_code == 200
    monkeypatch.delitem(sys.modules, "myconf", raising=False)


@pytest.mark.parametrize("readme", READMES)
def test_the_draw_example_runs_as_pasted(readme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_app: Any) -> None:
    """“用自己的代码画图 / Your own drawing code”一节的 mycharts.py：原样保存，两个图表都画得出来、没有错误。"""
    (tmp_path / "mycharts.py").write_text(readme_snippet(readme, "### Your own drawing code", "### 用自己的代码画图"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mycharts", raising=False)
    app = make_app("mycharts:MyConfig", LIVECHART_SCHEDULER="paused")
    client = app.test_client()
    for chart in ("noise", "spread"):
        status = client.get(f"/api/charts/{chart}").get_json()
        assert status["version"] == 1 and status["last_error"] is None, status
        assert client.get(f"/charts/{chart}.png").data.startswith(b"\x89PNG")
    assert client.get("/api/charts/noise/data").status_code == 404
    monkeypatch.delitem(sys.modules, "mycharts", raising=False)
