"""中文字体：内置的回退字体（Noto Sans CJK SC 子集）与字体选择顺序。纯绘图代码，不需要 Flask。"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Iterator

import matplotlib
import numpy as np
import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from livechart import fonts
from livechart.renderer import Renderer
from tests.conftest import IN_CI
from tests.test_rendering import frame
from tests.test_rendering import spec

BUNDLED_NAME = "LiveChart CJK Fallback"
# 页面与图表常用的标点和符号（全角标点、引号、破折号、省略号、单位）
PUNCTUATION = "，。、；：？！（）【】《》〈〉「」『』〔〕“”‘’—–…·℃°±×÷−％‰～￥　"


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """让 configure_fonts 在本测试里重新选字体；测试结束后恢复原来的设置。"""
    monkeypatch.setattr(fonts, "_configured", None)
    monkeypatch.setitem(matplotlib.rcParams, "font.family", ["DejaVu Sans"])
    monkeypatch.setitem(matplotlib.rcParams, "axes.unicode_minus", True)
    yield


def gb2312() -> set[str]:
    """GB 2312 的全部字符：逐个解码每个合法的双字节编码。"""
    found = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                found.add(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


def text_pixels(text: str, families: list[str]) -> np.ndarray:
    """只有一行文字的图在 Agg 上画出的像素。"""
    with matplotlib.rc_context({"font.family": families}):
        figure = Figure(figsize=(4, 1), dpi=100)
        figure.text(0.02, 0.3, text, fontsize=24)
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba()).copy()


@pytest.mark.usefixtures("fresh")
def test_bundled_font_is_chosen_when_no_font_is_installed(caplog: pytest.LogCaptureFixture) -> None:
    """没有任何系统字体：选内置字体，日志只说一次；中文标题与图例画出来没有“缺字形”警告。"""
    with caplog.at_level(logging.INFO, logger="livechart"):
        families = fonts.configure_fonts(extra=(), search=[])
        assert fonts.configure_fonts(extra=(), search=[]) is families
    assert families == ["DejaVu Sans", BUNDLED_NAME]
    assert fonts.cjk_available()
    # 只看本模块的记录：别的测试留下的后台线程可能同时在记日志
    said = [record for record in caplog.records if record.name == "livechart" and record.module == "fonts"]
    assert len(said) == 1
    assert said[0].levelno == logging.INFO
    assert "内置" in said[0].getMessage()
    assert str(fonts.BUNDLED_FONT) in said[0].getMessage()
    chart = spec(title="中文标题：温度与湿度（℃）", ylabel="使用率（%）", series={"signal": "信号强度", "walk": "随机游走"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = Renderer(chart).render(frame(30))
    assert png.startswith(b"\x89PNG")


@pytest.mark.usefixtures("fresh")
def test_bundled_font_draws_real_glyphs_not_boxes() -> None:
    """内置字体画出真正的字形：与只有 DejaVu Sans 时的方框不同，不同的字画出来也不同。"""
    families = fonts.configure_fonts(extra=(), search=[])
    assert families[-1] == BUNDLED_NAME
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tofu = text_pixels("温度与湿度", ["DejaVu Sans"])
        tofu_other = text_pixels("使用率曲线", ["DejaVu Sans"])
    assert any("missing from font" in str(warning.message) for warning in caught)
    assert np.array_equal(tofu, tofu_other)  # 没有字形：每个字都是同样的方框
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drawn = text_pixels("温度与湿度", families)
        drawn_other = text_pixels("使用率曲线", families)
    assert not np.array_equal(drawn, tofu)
    assert not np.array_equal(drawn, drawn_other)
    assert (drawn[..., :3] < 128).any()  # 确实画上了深色的笔画


def test_bundled_font_covers_gb2312_and_punctuation() -> None:
    charmap = FT2Font(str(fonts.BUNDLED_FONT)).get_charmap()
    missing = sorted(char for char in gb2312() | set(PUNCTUATION) if ord(char) not in charmap)
    assert len(gb2312()) == 7445
    assert not missing, f"bundled font lacks {''.join(missing)!r}; regenerate it (docs/fonts.md)"
    assert all(ord(char) in charmap for char in map(chr, range(0x21, 0x7F)))


def test_every_character_the_project_shows_has_a_glyph() -> None:
    """页面、静态文件与代码字符串里出现的每个非 ASCII 字符，DejaVu Sans 或内置字体里有字形（否则重新生成子集）。"""
    path = fonts.BUNDLED_FONT.parent / "make_subset.py"
    module_spec = importlib.util.spec_from_file_location("make_subset", path)
    assert module_spec is not None and module_spec.loader is not None
    make_subset = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(make_subset)
    shown = make_subset.project_characters()
    assert ord("图") in shown and ord("：") in shown  # 扫描确实读到了中文
    dejavu = FT2Font(font_manager.findfont("DejaVu Sans")).get_charmap()
    bundled = FT2Font(str(fonts.BUNDLED_FONT)).get_charmap()
    missing = sorted(chr(code) for code in shown if code not in dejavu and code not in bundled)
    assert not missing, f"no glyph for {''.join(missing)!r}; regenerate the bundled font (docs/fonts.md)"


def test_bundled_font_size_licence_and_name() -> None:
    """不超过 3 MB；授权文件在旁边；子集已改名，并保留版权与授权信息。"""
    assert fonts.BUNDLED_FONT.stat().st_size <= 3 * 1024 * 1024
    licence = (fonts.BUNDLED_FONT.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1 - 26 February 2007" in licence
    names = TTFont(fonts.BUNDLED_FONT)["name"]
    assert names.getDebugName(1) == BUNDLED_NAME
    assert names.getDebugName(0).startswith("© 2014-2021 Adobe")
    assert "SIL Open Font License, Version 1.1" in names.getDebugName(13)
    assert "Noto Sans CJK SC" not in {names.getDebugName(1), names.getDebugName(4), names.getDebugName(6)}


@pytest.mark.usefixtures("fresh")
def test_installed_font_is_preferred_over_the_bundled_one() -> None:
    installed = fonts.find_cjk_font()
    if installed is None:
        message = "no CJK font installed (.ci/run installs fonts-wqy-microhei)"
        if IN_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    name = font_manager.FontProperties(fname=installed).get_name()
    assert name != BUNDLED_NAME
    assert fonts.configure_fonts() == ["DejaVu Sans", name]


@pytest.mark.usefixtures("fresh")
def test_configured_paths_come_first() -> None:
    """LIVECHART_CJK_FONTS 的路径排在系统字体之前（这里给的正是内置字体，系统里也可能装着别的）。"""
    assert fonts.configure_fonts(extra=[str(fonts.BUNDLED_FONT)]) == ["DejaVu Sans", BUNDLED_NAME]


@pytest.mark.usefixtures("fresh")
def test_configured_path_without_glyphs_is_skipped() -> None:
    dejavu = font_manager.findfont("DejaVu Sans")
    assert fonts.configure_fonts(extra=[dejavu, "/nonexistent/font.otf"], search=[]) == ["DejaVu Sans", BUNDLED_NAME]
