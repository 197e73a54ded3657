"""配置模块的定位与载入：唯一把 LIVECHART_CONFIG（或配置类）变成配置类、并找到它所在文件的模块。

启动与重新载入（livechart/reload.py）都从文件本身载入配置模块，而且是隔离地载入：执行一个新的模块对象，
不放进 sys.modules，也不重新导入别的模块（数据源、绘制函数的模块不会重新导入）。所以
- 重新载入不会让正在运行的代码看到一半新、一半旧的模块；
- gunicorn 的主进程导入过 config.py，kill -HUP 之后新的工作进程照样读到文件现在的内容，
  而不是主进程 sys.modules 里的旧模块（docs/pitfalls.md 第 32 条）。
载入失败（语法错误、导入错误、执行时的异常、找不到类）一律抛出 ConfigError，消息指明文件与行号，
启动时与重新载入时一字不差。本模块不导入 Flask 的 app 与扩展。
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from livechart.spec import ConfigError

# 没有设置 LIVECHART_CONFIG 时的模块，以及其中按名字选择配置类的字典
DEFAULT_MODULE = "config"
NAMED = "CONFIGS"


@dataclass(frozen=True)
class ConfigRef:
    """配置类在哪里：模块名、模块里的名字（CONFIGS 里的键，或类的名字）与模块的文件（没有文件时为 None）。"""

    given: str  # 用户写的 LIVECHART_CONFIG（消息里引用它）
    module: str
    name: str
    named: bool  # True：name 是 CONFIGS 里的键；False：name 是模块里的属性（可以是 A.B）
    path: Path | None

    def describe(self) -> str:
        """消息与日志里的文件名（在当前目录下时用相对路径）。"""
        if self.path is None:
            return self.module
        try:
            return str(self.path.relative_to(Path.cwd()))
        except ValueError:
            return str(self.path)


def locate(config: str) -> ConfigRef:
    """LIVECHART_CONFIG 的值 → ConfigRef：development / testing / production、"模块:类"、"模块"（其中的 Config 类）。"""
    if ":" not in config and "." not in config:
        module, name, named = DEFAULT_MODULE, config, True
    elif ":" in config:
        module, _, name = config.partition(":")
        named = False
    else:
        module, name, named = config, "Config", False
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        spec, problem = None, f"{type(exc).__name__}: {exc}"
    else:
        problem = f"找不到模块 {module!r}"
    if spec is None:
        raise ConfigError(
            f"LIVECHART_CONFIG={config!r}：导入不了（{problem}）；请在 livechart 的源码目录里运行，或者把模块所在的目录加进 PYTHONPATH"
        )
    # absolute 而不是 resolve：配置文件可能是符号链接（Kubernetes 的 ConfigMap 更新时换掉链接指向的目录），
    # 要看的是这个路径现在指向的文件，而不是启动时它指向的那个
    path = Path(spec.origin).absolute() if spec.origin and spec.has_location else None
    return ConfigRef(config, module, name, named, path)


def ref_of(config_class: Any) -> ConfigRef | None:
    """直接传入的配置类（测试）所在的模块；找不到文件时为 None。"""
    module = sys.modules.get(getattr(config_class, "__module__", ""))
    origin = getattr(module, "__file__", None)
    if module is None or origin is None:
        return None
    name = config_class.__qualname__
    return ConfigRef(f"{module.__name__}:{name}", module.__name__, name, False, Path(origin).absolute())


def copied(value: Any) -> Any:
    """设置值的一份副本；复制不了的对象（锁、连接之类）原样。"""
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


def raw_config(config_class: Any, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """配置类（加上 create_app 的 overrides）里的全部设置，与 Flask 的 from_object 取的一样（大写的属性），各自复制一份。"""
    raw = {key: getattr(config_class, key) for key in dir(config_class) if key.isupper()}
    raw.update(overrides or {})
    return {key: copied(value) for key, value in raw.items()}


def digest(data: bytes) -> str:
    """文件内容的摘要（重新载入只在内容真的变了时进行）。"""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True)
class Loaded:
    """载入的结果：配置类、载入时文件内容的摘要，以及读文件之前的 signature（之后的保存一定会被发现）。"""

    config_class: Any
    digest: str
    signature: tuple[int, int, int] | None = None
    # 载入的内容（校验通过之后由调用方 remember）
    source: bytes = b""


def _where(ref: ConfigRef, exc: BaseException) -> str:
    """异常发生在配置文件的哪一行（找不到时为空）。"""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" 第 {exc.lineno} 行"
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if ref.path and Path(frame.filename) == ref.path]
    return f" 第 {frames[-1].lineno} 行" if frames else ""


def _execute(ref: ConfigRef, source: bytes) -> ModuleType:
    """在一个新的模块对象里执行配置文件的这份内容（不进 sys.modules）。"""
    assert ref.path is not None
    spec = importlib.util.spec_from_file_location(ref.module, ref.path)
    if spec is None:
        raise ConfigError(f"LIVECHART_CONFIG={ref.given!r}：{ref.describe()} 不是 Python 模块")
    module = importlib.util.module_from_spec(spec)
    try:
        code = compile(source, str(ref.path), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except SyntaxError as exc:
        raise ConfigError(f"{ref.describe()}{_where(ref, exc)}：{exc.msg}（SyntaxError）") from None
    except Exception as exc:
        raise ConfigError(f"{ref.describe()}{_where(ref, exc)}：{type(exc).__name__}: {exc}") from None
    return module


def _pick(ref: ConfigRef, module: ModuleType) -> Any:
    """在模块里找到配置类。"""
    if ref.named:
        configs = getattr(module, NAMED, None)
        if not isinstance(configs, dict):
            raise ConfigError(f"{ref.describe()} 里没有 {NAMED} 字典（名字 → 配置类）")
        if ref.name not in configs:
            raise ConfigError(f"LIVECHART_CONFIG={ref.name!r} 不认识：可以用 {'、'.join(configs)}，或者写成 '模块:类'")
        return configs[ref.name]
    found: Any = module
    for part in ref.name.split("."):
        found = getattr(found, part, None)
        if found is None and ":" not in ref.given:  # LIVECHART_CONFIG=模块：其中名为 Config 的类
            raise ConfigError(f"LIVECHART_CONFIG={ref.given!r}：模块里没有 Config 类；用 '模块:类' 指明一个")
        if found is None:
            raise ConfigError(f"LIVECHART_CONFIG={ref.given!r}：{ref.describe()} 里没有 {ref.name!r}")
    if isinstance(found, ModuleType) or not isinstance(found, type):
        raise ConfigError(f"LIVECHART_CONFIG={ref.given!r}：{ref.describe()} 里的 {ref.name!r} 不是类")
    return found


def unreadable(ref: ConfigRef, reason: str) -> str:
    """读不到配置文件时的消息（读的时候出错，或者文件一直不在：同一句话）。"""
    return f"{ref.describe()}：读不到（{reason}）"


def read(ref: ConfigRef) -> bytes:
    """配置文件现在的内容；读不到时抛 ConfigError。"""
    assert ref.path is not None
    try:
        return ref.path.read_bytes()
    except OSError as exc:
        raise ConfigError(unreadable(ref, exc.strerror or str(exc))) from None


def load(ref: ConfigRef, source: bytes | None = None) -> Loaded:
    """从文件（或给定的内容）隔离地载入配置模块，返回其中的配置类。没有文件的模块照常导入。"""
    if ref.path is None:
        try:
            module = importlib.import_module(ref.module)
        except Exception as exc:
            raise ConfigError(f"LIVECHART_CONFIG={ref.given!r}：导入不了（{type(exc).__name__}: {exc}）") from None
        return Loaded(_pick(ref, module), "")
    before = signature(ref.path)
    data = read(ref) if source is None else source
    return Loaded(_pick(ref, _execute(ref, data)), digest(data), before, data)


# 每个配置文件最近一次载入并校验通过的内容（本进程里）。gunicorn 的主进程在启动时、以及 fork 每个工作进程之前
# （pre_fork）载入并校验一次：fork 出来的工作进程继承它。配置文件正好有错时被重启的工作进程（崩溃、OOM、超时、
# kill -HUP）用它启动并报告错误，而不是退出——gunicorn 把工作进程载入失败当作“App failed to load”，会停掉整个服务器
_last_good: dict[Path, bytes] = {}


def remember(ref: ConfigRef | None, loaded: Loaded | None) -> None:
    """记下这份内容：它载入了，而且整个配置校验通过（只有调用方知道后者）。"""
    if ref is not None and ref.path is not None and loaded is not None and loaded.source:
        _last_good[ref.path] = loaded.source


def last_good(ref: ConfigRef) -> bytes | None:
    """这个配置文件在本进程里最近一次载入成功的内容；没有时为 None。"""
    return _last_good.get(ref.path) if ref.path is not None else None


def signature(path: Path) -> tuple[int, int, int] | None:
    """文件的 (inode, 大小, 修改时间 ns)：便宜地发现保存（编辑器改名替换时 inode 也变）；文件不在时为 None。"""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
