"""测试用的绘图函数（draw）：按路径 tests.draw_functions:<名字> 导入，渲染进程池里也一样。"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# 每个进程里被调用的次数（按图表名）
CALLS: dict[str, int] = {}
# hang 在它被设置时卡住，直到它被清除
HANG = threading.Event()
# 最近一次收到的参数（测试检查）
SEEN: dict[str, Any] = {}


def bars(fig: Any, data: pd.DataFrame | None) -> None:
    """最普通的两参数函数：窗口最后一行的柱状图。"""
    ax = fig.add_subplot()
    if data is not None and len(data):
        row = data.iloc[-1]
        ax.bar([str(c) for c in row.index], row.to_numpy())


def inspect(fig: Any, data: pd.DataFrame | None, context: Any, *, label: str = "") -> None:
    """记下收到的一切，并改动 data（不能影响窗口）。"""
    SEEN.update(
        figure=fig, size=tuple(fig.get_size_inches() * fig.dpi), dpi=fig.dpi, data=None if data is None else data.copy(),
        context=context, label=label, axes_before=len(fig.axes), face=fig.get_facecolor(),
    )  # fmt: skip
    context.state["calls"] = context.state.get("calls", 0) + 1
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set_title(label or context.chart)
    if data is not None:
        data.iloc[:, :] = -1.0


def counted(fig: Any, data: pd.DataFrame | None, context: Any) -> None:
    """数自己在这个进程里被调用了几次；图上写出 pid 与次数。"""
    CALLS[context.chart] = CALLS.get(context.chart, 0) + 1
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, f"{os.getpid()} #{CALLS[context.chart]}", ha="center")


def kept(fig: Any, data: pd.DataFrame | None, context: Any) -> None:
    """keep=True：第一次建线条，之后只更新；记下线条对象。"""
    values = np.arange(10.0) * (context.state.setdefault("n", 0) + 1)
    context.state["n"] += 1
    if not context.artists:
        ax = fig.add_subplot()
        (context.artists["line"],) = ax.plot(values)
        ax.set_ylim(0, 200)
    else:
        context.artists["line"].set_ydata(values)
    SEEN["line"] = context.artists["line"]


def broken(fig: Any, data: pd.DataFrame | None) -> None:
    """出错：文件 LIVECHART_TEST_BREAK 存在时除以零。"""
    path = os.environ.get("LIVECHART_TEST_BREAK")
    if path and Path(path).exists():
        raise ZeroDivisionError("division by zero in the test function")
    fig.add_subplot().plot([1, 2, 3])


def hang(fig: Any, data: pd.DataFrame | None) -> None:
    """HANG 被设置时卡住，直到它被清除（本进程里的测试）。"""
    while HANG.is_set():
        time.sleep(0.01)
    fig.add_subplot().plot([3, 2, 1])


def hang_forever(fig: Any, data: pd.DataFrame | None) -> None:
    """一直卡住（渲染进程池的测试：进程会被杀掉）。"""
    time.sleep(3600)


def uses_pyplot(fig: Any, data: pd.DataFrame | None) -> None:
    """在调用时导入 pyplot（不该这样做；服务记一条警告）。"""
    import matplotlib.pyplot  # noqa: F401

    fig.add_subplot().plot([1, 2])


def two_arguments_only(fig: Any) -> None:
    """签名不对：少了 data。"""


NOT_CALLABLE = 42


def gallery(fig: Any, data: pd.DataFrame | None) -> None:
    """什么都画一点：几个子图、饼图、imshow 加颜色条、直方图、带箭头的标注、中文。"""
    rng = np.random.default_rng(3)
    (pie, image), (hist, notes) = fig.subplots(2, 2)
    pie.pie([3, 2, 1], labels=["读", "写", "其他"], autopct="%.0f%%")
    shown = image.imshow(rng.random((8, 12)), cmap="viridis")
    fig.colorbar(shown, ax=image, label="强度")
    hist.hist(rng.normal(size=500), bins=30)
    hist.set_title("直方图")
    notes.plot([0, 1, 2, 3], [1, 3, 2, 4])
    notes.annotate("峰值", xy=(1, 3), xytext=(1.8, 3.6), arrowprops={"arrowstyle": "->"})
    fig.suptitle("中文标题：各种 Matplotlib 图")


def leaky(fig: Any, data: pd.DataFrame | None, *, token: str) -> None:
    """出错，消息里带着 kwargs 里的机密。"""
    raise PermissionError(f"the API rejected {token}")


def exits(fig: Any, data: pd.DataFrame | None) -> None:
    """调用 sys.exit（不该这样做：不能结束调度器线程或请求）。"""
    raise SystemExit("usage: exits")


def resizes(fig: Any, data: pd.DataFrame | None) -> None:
    """改 Figure 的大小（应当用图表的 size 选项）。"""
    fig.set_size_inches(12, 3)
    fig.add_subplot().plot([1, 2])


def frameless(fig: Any, data: pd.DataFrame | None, context: Any) -> None:
    """第一次去掉 Figure 的底色（frameon=False），之后什么也不改。"""
    if not context.state:
        context.state["first"] = True
        fig.set_frameon(False)
    fig.add_subplot().plot([1, 2])


def clashing(fig: Any, data: pd.DataFrame | None, context: Any, **options: Any) -> None:
    """接受任意关键字参数，kwargs 里却有 context。"""


def gathering(fig: Any, data: pd.DataFrame | None, context: Any) -> None:
    """自己收集数据的函数（没有 source）：只在画默认图时收集一个样本，变体画同样的样本。"""
    samples = context.state.setdefault("samples", [])
    if context.primary:
        samples.append(len(samples))
    fig.add_subplot().plot(samples or [0])


def dark_fails(fig: Any, data: pd.DataFrame | None, context: Any) -> None:
    """只在暗色主题下出错。"""
    if context.theme == "dark":
        raise ValueError("no dark version of this chart")
    fig.add_subplot().plot([1, 2, 3])
