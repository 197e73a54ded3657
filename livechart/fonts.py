"""中日韩字体：检测已安装的 CJK 字体并注册为回退字体，使中文标题正确显示。

Matplotlib 默认的 DejaVu Sans 没有汉字字形（显示为方框，并且每次绘制都警告）。
这里按字形表（是否含“中”字）判断字体，而不是按文件名猜测；找到后用
fontManager.addfont 注册，并设置 font.family 回退列表（Matplotlib ≥ 3.6 逐字回退）。
本模块不导入 Flask，也不依赖 mplfonts（体积大且字体授权不明）。
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import matplotlib
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

log = logging.getLogger("livechart")

# 用来判断字体是否含中文字形的字
PROBE = ord("中")
# 文件名含这些片段的字体先检查，通常第一个就命中
_LIKELY = ("cjk", "wqy", "han", "hei", "song", "kai", "ming", "fallback", "uming", "ukai")

_configured: list[str] | None = None


def _has_cjk(path: str) -> bool:
    """字体文件是否含有汉字字形。"""
    try:
        return PROBE in FT2Font(path).get_charmap()
    except (OSError, RuntimeError, ValueError):
        return False


def find_cjk_font(extra: Iterable[str] = (), search: Iterable[str] | None = None) -> str | None:
    """返回第一个含汉字字形的字体文件路径：先看 extra，再看系统字体；没有则返回 None。"""
    system = font_manager.findSystemFonts() if search is None else list(search)
    system.sort(key=lambda p: not any(hint in os.path.basename(p).lower() for hint in _LIKELY))
    for path in [*extra, *system]:
        if os.path.isfile(path) and _has_cjk(path):
            return path
    return None


def configure_fonts(extra: Iterable[str] = (), search: Iterable[str] | None = None) -> list[str]:
    """注册 CJK 回退字体并设置 rcParams（每个进程只做一次），返回 font.family 列表。

    找不到 CJK 字体时只记录一条警告，而不是每次绘制都刷屏。
    """
    global _configured
    if _configured is not None:
        return _configured
    path = find_cjk_font(extra, search)
    families = ["DejaVu Sans"]
    if path is None:
        log.warning(
            "未找到含中文字形的字体，中文将显示为方框；请安装一个 CJK 字体"
            "（如 Debian 的 fonts-noto-cjk 或 fonts-wqy-microhei）或设置 LIVECHART_CJK_FONTS"
        )
    else:
        font_manager.fontManager.addfont(path)
        name = font_manager.FontProperties(fname=path).get_name()
        families.append(name)
        log.info("中文字体: %s (%s)", name, path)
    # rcParams 是全局的：启动时设置一次，绘图线程不再改动
    matplotlib.rcParams["font.family"] = families
    matplotlib.rcParams["axes.unicode_minus"] = False
    _configured = families
    return families


def cjk_available() -> bool:
    """是否已注册 CJK 字体。"""
    return _configured is not None and len(_configured) > 1
