"""绘图函数（图表规格的 draw）：解析、启动时检查、调用约定。

一个图表怎么画只有一种方式：一个绘图函数 function(fig, data[, context], **kwargs)。
- fig：图表大小与 dpi 的 matplotlib.figure.Figure（由 livechart/renderer.py 创建与复用）；
- data：图表的滚动窗口（DataFrame 的副本；没有 source 的图表为 None）；
- context：可选的第三个参数，DrawContext（图表名、主题、倍率、两个状态字典）。
内置的五种类型（line、area、bar、step、scatter）也是这样一个函数（livechart/charts.py 的 timeseries）。

默认每次调用前清空 Figure（fig.clear()），函数每次从头画；keep=True 时不清空，函数第一次建好图元
（context.artists 为空），之后只更新数据——更快，内置类型就是这样做的。
函数在主题的样式上下文里被调用（livechart/themes.py）。本模块不导入 Flask（docs/drawing.md）。
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import sys
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from werkzeug.utils import ImportStringError
from werkzeug.utils import import_string

log = logging.getLogger("livechart")

DRAW_KEYS = ("function", "kwargs", "keep")


class DrawError(ValueError):
    """draw 选项不合法：消息不含图表名（调用方加上）。"""


@dataclass(frozen=True)
class DrawSpec:
    """一个图表的绘图函数："包.模块:函数"、额外的关键字参数、是否保留图元（keep）。"""

    function: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    keep: bool = False
    # 函数所在模块文件内容的摘要（导入时）：模块改了，规格就不同，重新载入配置时换新的绘制器
    code: str = ""


@dataclass
class DrawContext:
    """绘图函数可选的第三个参数。

    state：这个图表的字典，在本进程里一直保留（各个变体共用）：放函数自己收集的数据。
    artists：这个 Figure 的字典（每个变体一个 Figure）：keep=True 时放建好的图元；Figure 新建或出错重置后为空。
    theme、scale、narrow：这个变体的主题、倍率（dpi 的倍数）与版式。
    """

    chart: str
    theme: str
    scale: float
    state: dict[str, Any]
    artists: dict[str, Any]
    # 窄版式（手机）：Figure 比图表的 size 窄（livechart/variants.py），同样大小的字在手机上读得清
    narrow: bool = False
    # 这是图表的默认图（自己的主题、1 倍、宽版式）：每个节拍一定画它；自己收集数据的函数只在这时收集，
    # 有人要的变体在同一个节拍里接着画，用同样的数据（docs/drawing.md）
    primary: bool = True


@dataclass(frozen=True)
class Resolved:
    """导入好的绘图函数与调用方式。"""

    function: Callable[..., Any]
    takes_context: bool
    kwargs: Mapping[str, Any]
    keep: bool
    # 模块文件内容的摘要（DrawSpec.code）
    code: str = ""
    # 内置类型：不改动数据（不必复制），也不改 rcParams、颜色全按主题自己设置（不必进入样式上下文，每次省约 0.5 ms，
    # 像素完全相同：tests/test_kinds.py 的基准图）
    builtin: bool = False


def parse(raw: Any) -> DrawSpec:
    """draw 选项："包.模块:函数"，或 {"function": …, "kwargs": {…}, "keep": false}。只查形状，不导入。"""
    if isinstance(raw, str):
        raw = {"function": raw}
    if not isinstance(raw, Mapping):
        raise DrawError("选项 'draw' 必须是 '包.模块:函数' 形式的文字，或含 'function' 与 'kwargs' 的字典")
    unknown = sorted(set(raw) - set(DRAW_KEYS))
    if unknown:
        raise DrawError(f"选项 'draw' 里有未知的键 {unknown[0]!r}（可用的键：{'、'.join(DRAW_KEYS)}）")
    function = raw.get("function")
    if not isinstance(function, str) or ":" not in function or not all(function.split(":", 1)):
        raise DrawError(f"选项 'draw' 的 'function' 必须写成 '包.模块:函数'，收到 {function!r}")
    kwargs = raw.get("kwargs", {})
    if not isinstance(kwargs, Mapping) or not all(isinstance(key, str) and key.isidentifier() for key in kwargs):
        raise DrawError("选项 'draw' 的 'kwargs' 必须是关键字参数的字典（键是字符串形式的参数名）")
    for key, value in kwargs.items():
        if not _plain(value):
            raise DrawError(
                f"选项 'draw' 的 kwargs {key!r} 必须是普通数据（数字、文字、true/false、None，以及由它们组成的列表和字典），"
                f"收到 {type(value).__name__}；别的对象请在函数里创建"
            )
    keep = raw.get("keep", False)
    if not isinstance(keep, bool):
        raise DrawError(f"选项 'draw' 的 'keep' 必须是 true 或 false，收到 {keep!r}")
    return DrawSpec(function, dict(kwargs), keep)


def _plain(value: Any) -> bool:
    """kwargs 的值只能是普通数据：随每次绘制发给渲染进程（pickle），重新载入配置时按值比较（数组、对象做不到）。"""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return False


def _takes_context(function: Callable[..., Any], ref: str, kwargs: Mapping[str, Any]) -> bool:
    """函数能否以 (fig, data, context, **kwargs) 调用；只能以 (fig, data, **kwargs) 调用时为 False；都不行时抛 DrawError。"""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        raise DrawError(f"选项 'draw'：读不出 {ref!r} 的签名") from None
    if inspect.iscoroutinefunction(function):
        raise DrawError(f"选项 'draw'：{ref!r} 是异步函数（async）；绘图函数必须是普通函数")
    positional = [p.name for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    clash = sorted(set(kwargs) & set(positional[:3]))
    if clash:
        raise DrawError(f"选项 'draw' 的 kwargs {clash[0]!r} 与 {ref} 的 (fig, data, context) 参数同名")
    for arguments, with_context in (((None, None, None), True), ((None, None), False)):
        try:
            signature.bind(*arguments, **kwargs)
        except TypeError:
            continue
        return with_context
    extra = f"，并接受关键字参数 {'、'.join(kwargs)}" if kwargs else ""
    raise DrawError(f"选项 'draw'：{ref}{signature} 必须能以 (fig, data) 或 (fig, data, context) 调用{extra}")


def resolve(draw: DrawSpec) -> Resolved:
    """导入并检查绘图函数（启动时、重新载入配置时与每个绘制进程里）；不合法时抛 DrawError。

    模块已经导入过、而它的文件内容变了：先在原来的模块对象里重新执行它，保存绘图函数的模块就能实时生效。"""
    module_name = draw.function.split(":", 1)[0]
    _reload_if_changed(module_name)
    try:
        function = import_string(draw.function)
    except ImportStringError as exc:
        cause = exc.exception
        raise DrawError(f"选项 'draw'：无法导入 {draw.function!r}（{type(cause).__name__}: {cause}）") from None
    except Exception as exc:  # 模块在导入时出错（语法错误、它自己的异常）：指明函数与原因，而不是一个堆栈
        raise DrawError(f"选项 'draw'：导入 {draw.function!r} 时出错（{type(exc).__name__}: {exc}）") from None
    if not callable(function):
        raise DrawError(f"选项 'draw'：{draw.function!r} 不是可调用的对象")
    takes_context = _takes_context(function, draw.function, draw.kwargs)
    code = _remember(module_name)
    if report_pyplot:
        warn_if_pyplot()
    return Resolved(function, takes_context, draw.kwargs, draw.keep, code=code)


# 绘图函数的模块：模块名 → 正在运行的内容的摘要，以及监视线程上次看到的文件 stat
_loaded: dict[str, str] = {}
_seen: dict[str, tuple[int, int, int] | None] = {}


def _file(module_name: str) -> str | None:
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    return path if isinstance(path, str) and path.endswith(".py") else None


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _digest(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.blake2b(handle.read(), digest_size=16).hexdigest()
    except OSError:
        return ""


def _remember(module_name: str) -> str:
    """记下模块现在运行的内容（第一次导入时），返回它的摘要。"""
    path = _file(module_name)
    if path is None:
        return ""
    if module_name not in _loaded:
        _seen[module_name] = _stat(path)
        _loaded[module_name] = _digest(path)
    return _loaded[module_name]


def _reload_if_changed(module_name: str) -> None:
    """模块导入过、文件内容又变了：重新执行它。失败时（语法错误……）抛 DrawError，正在运行的仍是原来的代码。"""
    path = _file(module_name)
    if path is None or module_name not in _loaded:
        return
    digest = _digest(path)
    if digest == _loaded[module_name]:
        return
    try:
        # 像 importlib.reload 那样在原来的模块对象里重新执行，但直接从源文件编译：同一秒里改了、大小又相同的文件，
        # .pyc 的校验（修改时间按秒 + 大小）会认为没变，reload 就会执行旧的字节码
        with open(path, "rb") as handle:
            code = compile(handle.read(), path, "exec")
        exec(code, sys.modules[module_name].__dict__)
    except Exception as exc:
        raise DrawError(f"选项 'draw'：重新载入 {module_name!r}（{path}）失败（{type(exc).__name__}: {exc}）") from None
    _loaded[module_name], _seen[module_name] = digest, _stat(path)
    log.info("绘图函数的模块 %s 改了，已重新载入（%s）", module_name, path)


def changed_modules(settle: float) -> list[str]:
    """监视线程每次 poll 调用：文件 stat 变了（且写完超过 settle 秒）、内容也变了的绘图函数模块。"""
    changed = []
    for name in list(_loaded):
        path = _file(name)
        if path is None:
            continue
        stat = _stat(path)
        if stat == _seen.get(name) or (stat is not None and time.time() - stat[2] / 1e9 < settle):
            continue
        _seen[name] = stat
        if _digest(path) != _loaded[name]:
            changed.append(name)
    return changed


# 绘制进程里不记日志（没有日志设置），由服务进程按绘制的结果报告（pool.py）
report_pyplot = True
_pyplot_warned = False


def pyplot_loaded() -> bool:
    """pyplot 是否已被导入到这个进程。"""
    return "matplotlib.pyplot" in sys.modules


def warn_if_pyplot(loaded: bool | None = None) -> bool:
    """pyplot 被导入了时记一条警告（每个服务进程一次）：它的全局状态不是线程安全的，绘图函数应当只画在给它的 Figure 上。
    loaded：绘制进程报告的（pool.py），None 时看本进程。返回 pyplot 是否已导入。"""
    global _pyplot_warned
    loaded = pyplot_loaded() if loaded is None else loaded
    if loaded and not _pyplot_warned:
        _pyplot_warned = True
        log.warning(
            "matplotlib.pyplot 已被导入（多半来自一个绘图函数或它的模块）：pyplot 的全局状态不是线程安全的，"
            "绘图函数应当只画在传给它的 Figure 上，不要用 plt（docs/drawing.md）"
        )
    return loaded
