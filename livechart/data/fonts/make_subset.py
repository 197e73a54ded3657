"""重新生成内置的中文回退字体（维护者用；服务运行时不导入本文件）。

用法（在仓库根目录）：
    .venv/bin/python livechart/data/fonts/make_subset.py /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

来源字体是 Debian fonts-noto-cjk（1:20220127+repack1-1，Noto Sans CJK 2.004）里的 NotoSansCJK-Regular.ttc，
取其中的简体中文字面（Noto Sans CJK SC）。本脚本：
1. 写出 unicodes.txt：GB 2312 的全部字符（逐个解码每个合法的双字节编码）、ASCII、常用标点与全角字符，
   以及 templates/、static/、livechart/**/*.py、config.py、examples/ 里字符串中出现的全部非 ASCII 字符；
2. 用 fontTools.subset 按 unicodes.txt 取子集；
3. 改名为 LiveChart CJK Fallback（子集是修改版，不冒用原字体名，也不与已安装的完整字体同名）；
4. 写出 LiveChartCJKFallback-Regular.otf。授权文件 OFL.txt 是上游 Sans/LICENSE 的原样副本。
说明见 docs/fonts.md。
"""

from __future__ import annotations

import argparse
import io
import sys
import tokenize
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUTPUT = HERE / "LiveChartCJKFallback-Regular.otf"
UNICODES = HERE / "unicodes.txt"
FAMILY = "LiveChart CJK Fallback"
POSTSCRIPT = "LiveChartCJKFallback-Regular"
# TTC 里的简体中文字面
SC_FACE = "NotoSansCJKsc-Regular"

# 常用标点与符号（码位区间，含两端）：GB 2312 的 Python 解码把 A1A4、A1AA 映射到 U+30FB、U+2015，
# 页面与图表常写的 U+00B7（·）、U+2014（—）等要另外加上
RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 补充：° ± × · 等
    (0x2010, 0x2027),  # 连字符、破折号、引号、省略号
    (0x2030, 0x203B),  # ‰ ′ ″ ※ 等
    (0x2103, 0x2103),  # ℃
    (0x2212, 0x2212),  # 减号
    (0x3000, 0x303F),  # 中日韩符号与标点
    (0xFF01, 0xFF65),  # 全角 ASCII 与半角标点
    (0xFFE0, 0xFFE6),  # 全角 ￠ ￡ ￥ 等
)


def gb2312() -> set[int]:
    """GB 2312 的全部字符：逐个解码每个合法的双字节编码。"""
    found = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                found.add(ord(bytes((high, low)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return found


def _python_strings(path: Path) -> str:
    """Python 文件里全部字符串字面量（含 f-string 的文字部分）的文字。"""
    kinds = {tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    tokens = tokenize.tokenize(io.BytesIO(path.read_bytes()).readline)
    return "".join(token.string for token in tokens if token.type in kinds)


def project_characters(root: Path = ROOT) -> set[int]:
    """页面、静态文件与代码字符串里出现的非 ASCII 字符（图表标题、标签、页面文字都在这里）。"""
    texts = [
        path.read_text(encoding="utf-8")
        for folder in ("templates", "static")
        for path in sorted((root / folder).rglob("*"))
        if path.suffix in {".html", ".css", ".js"}
    ]
    sources = [*sorted((root / "livechart").rglob("*.py")), root / "config.py", *sorted((root / "examples").rglob("*.py"))]
    texts += [_python_strings(path) for path in sources if path.is_file()]
    return {ord(char) for text in texts for char in text if ord(char) > 0x7F}


def wanted() -> set[int]:
    """子集要包含的全部码位。"""
    codes = gb2312() | project_characters()
    for first, last in RANGES:
        codes.update(range(first, last + 1))
    return codes


def _sc_face(path: str) -> TTFont:
    """打开来源字体；TTC 里取简体中文字面。"""
    if not path.lower().endswith((".ttc", ".otc")):
        return TTFont(path)
    number = 0
    while True:
        font = TTFont(path, fontNumber=number)
        if font["name"].getDebugName(6) == SC_FACE:
            return font
        number += 1


def rename(font: TTFont) -> None:
    """把子集改名为 LiveChart CJK Fallback：name 表与 CFF 里的名字都改。"""
    name = font["name"]
    version = name.getDebugName(5)
    source = name.getDebugName(4)
    name.removeNames(nameID=16)
    name.removeNames(nameID=17)
    name.setName(FAMILY, 1, 3, 1, 0x409)
    name.setName("Regular", 2, 3, 1, 0x409)
    name.setName(f"{version.split(';')[0].removeprefix('Version ')};LIVECHART;{POSTSCRIPT}", 3, 3, 1, 0x409)
    name.setName(FAMILY, 4, 3, 1, 0x409)
    name.setName(f"{version}; subset for livechart", 5, 3, 1, 0x409)
    name.setName(POSTSCRIPT, 6, 3, 1, 0x409)
    name.setName(
        f"Subset of {source} (GB 2312 and common punctuation), renamed; last-resort fallback for livechart", 10, 3, 1, 0x409
    )
    # 只留 Windows 平台的英文名字（Mac 平台与其他语言的名字仍是原名）
    name.names = [record for record in name.names if record.platformID == 3 and record.langID == 0x409]
    cff = font["CFF "].cff
    cff.fontNames = [POSTSCRIPT]
    top = cff.topDictIndex[0]
    for key, value in (("FullName", FAMILY), ("FamilyName", FAMILY)):
        if hasattr(top, key):
            setattr(top, key, value)
    if hasattr(top, "CIDFontName"):
        top.CIDFontName = POSTSCRIPT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="重新生成 livechart 内置的中文回退字体")
    parser.add_argument("source", help="NotoSansCJK-Regular.ttc（Debian fonts-noto-cjk）或 NotoSansCJKsc-Regular.otf")
    args = parser.parse_args(argv)
    codes = sorted(wanted())
    UNICODES.write_text("".join(f"U+{code:04X}\n" for code in codes), encoding="ascii")
    font = _sc_face(args.source)
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    # Matplotlib 不做 OpenType 字形替换（GSUB）：只留字距。默认的特性会带进竖排、繁体等替换字形，几乎让字形数翻倍
    options.layout_features = ["kern"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codes)
    subsetter.subset(font)
    rename(font)
    font.recalcTimestamp = False  # 保留来源字体的时间戳：同样的输入得到同样的文件
    font.save(OUTPUT)
    missing = sorted(set(codes) - set(font.getBestCmap()))
    print(
        f"{OUTPUT.name}: {OUTPUT.stat().st_size} bytes, {len(codes)} code points, not in source: "
        + " ".join(f"U+{code:04X}" for code in missing)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
