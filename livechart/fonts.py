"""中日韩字体：选定含汉字字形的字体并注册为回退字体，使中文标题与标签正确显示。

Matplotlib 默认的 DejaVu Sans 没有汉字字形（显示为方框，并且每次绘制都警告）。
选择顺序：LIVECHART_CJK_FONTS 给的路径 → 已安装的系统字体 → 随包附带的子集字体（最后的回退）。
按字形表（是否含“中”字）判断字体，而不是按文件名猜测；选定后用 fontManager.addfont 注册，
并设置 font.family 回退列表（Matplotlib ≥ 3.6 逐字回退）。
内置字体是 Noto Sans CJK SC 2.004 的子集（GB 2312 全部字符与常用标点，SIL OFL 1.1），
改名为 LiveChart CJK Fallback；来源与重新生成的方法见 docs/fonts.md。
本模块不导入 Flask，也不依赖 mplfonts（体积大且字体授权不明）。
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

log = logging.getLogger("livechart")

# 用来判断字体是否含中文字形的字
PROBE = ord("中")
# 文件名含这些片段的字体先检查，通常第一个就命中
_LIKELY = ("cjk", "wqy", "han", "hei", "song", "kai", "ming", "fallback", "uming", "ukai")
# 随包附带的回退字体（OFL.txt 是它的授权文件，放在同一目录）
BUNDLED_FONT = Path(__file__).resolve().parent / "data" / "fonts" / "LiveChartCJKFallback-Regular.otf"

_configured: list[str] | None = None


def _has_cjk(path: str) -> bool:
    """字体文件是否含有汉字字形。"""
    try:
        return PROBE in FT2Font(path).get_charmap()
    except (OSError, RuntimeError, ValueError):
        return False


def find_cjk_font(extra: Iterable[str] = (), search: Iterable[str] | None = None) -> str | None:
    """返回第一个含汉字字形的字体文件路径：先看 extra，再看系统字体；都没有则返回 None（不含内置字体）。"""
    system = font_manager.findSystemFonts() if search is None else list(search)
    system.sort(key=lambda p: not any(hint in os.path.basename(p).lower() for hint in _LIKELY))
    for path in [*extra, *system]:
        if os.path.isfile(path) and _has_cjk(path):
            return path
    return None


def configure_fonts(
    extra: Iterable[str] = (), search: Iterable[str] | None = None, bundled: str | os.PathLike[str] = BUNDLED_FONT
) -> list[str]:
    """注册 CJK 回退字体并设置 rcParams（每个进程只做一次），返回 font.family 列表。

    没有已安装的 CJK 字体时用内置的子集字体，并记一条日志说明；只有内置字体也无法加载时才警告（一次），
    而不是每次绘制都为缺字形刷屏。
    """
    global _configured
    if _configured is not None:
        return _configured
    families = ["DejaVu Sans"]
    path = find_cjk_font(extra, search)
    fallback = path is None
    if fallback and _has_cjk(os.fspath(bundled)):
        path = os.fspath(bundled)
    if path is None:
        log.warning(
            "未找到含中文字形的字体，内置的回退字体 %s 也无法加载，中文将显示为方框；请安装一个 CJK 字体"
            "（如 Debian 的 fonts-noto-cjk 或 fonts-wqy-microhei）或设置 LIVECHART_CJK_FONTS",
            os.fspath(bundled),
        )
    else:
        font_manager.fontManager.addfont(path)
        name = font_manager.FontProperties(fname=path).get_name()
        families.append(name)
        if fallback:
            log.info("中文字体：未找到已安装的 CJK 字体，使用内置的回退字体 %s（%s）", name, path)
        else:
            log.info("中文字体：%s（%s）", name, path)
    # rcParams 是全局的：启动时设置一次，绘图线程不再改动
    matplotlib.rcParams["font.family"] = families
    matplotlib.rcParams["axes.unicode_minus"] = False
    _configured = families
    return families


def cjk_available() -> bool:
    """是否已注册 CJK 字体（已安装的或内置的；只有内置字体也无法加载时为假）。"""
    return _configured is not None and len(_configured) > 1
