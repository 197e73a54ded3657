"""内置类型的可读性（issue 14）：从外面看图片与图元的外框，而不是看实现。

- 任何文字、标记都不被图片边缘裁掉：每种类型、亮暗两种主题、1 倍与 2 倍 dpi、800×400 与手机用的 400×250，
  最新时间从 hh:mm:50 逐秒走到 hh:mm+1:10（以及刚启动时很短的窗口），扫描图片最外几像素有没有墨迹；
- 最新值标注互不重叠，不压在数据、坐标轴、刻度标签、图例上，同一个轴的小数位数与前缀一致；
- 日期按中文习惯书写、时间不含糊，x 刻度标签互不重叠（窄图上刻度更少）；
- 超过几个采样间隔的缺口画成断开（柱状图不受影响）。
"""

from __future__ import annotations

import re
from itertools import combinations
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.transforms import Bbox

from livechart.renderer import Renderer
from livechart.spec import parse_chart
from livechart.themes import THEMES
from tests.conftest import pixels

START = pd.Timestamp("2026-11-25 14:41:50")

# 每种类型与选项：line、area、bar、step、scatter、堆叠、右侧 y 轴、最新值标注、图例
KINDS: dict[str, dict[str, Any]] = {
    "line": {"legend": False},
    "line_annotated": {"annotate_last": True, "unit": "percent"},
    "area": {"kind": "area", "legend": True},
    "area_stacked": {"kind": "area", "stacked": True, "unit": "bytes/s", "annotate_last": True},
    "bar": {"kind": "bar"},
    "bar_stacked": {"kind": "bar", "stacked": True, "annotate_last": True},
    "step": {"kind": "step", "annotate_last": True},
    "scatter": {"kind": "scatter", "legend": False},
    "right_axis": {
        "series": {"a": "温度", "b": {"label": "流量", "axis": "right"}},
        "ylabel": "°C",
        "y2label": "流量",
        "y2unit": "bytes",
        "annotate_last": True,
    },
    "right_axis_plain": {"series": {"a": "温度", "b": {"label": "流量", "axis": "right"}}, "y2label": "流量"},
}


def chart(size: tuple[int, int] = (800, 400), **options: Any):
    """python 数据源的图表（数据由测试直接交给绘制器）。"""
    raw = {
        "title": "可读性测试",
        "source": {"type": "python", "callable": "tests.test_kinds:data", "columns": ["a", "b", "c"]},
        "series": {"a": "甲", "b": "乙"},
        "size": list(size),
    }
    raw.update(options)
    return parse_chart("t", raw)


def frame(end: pd.Timestamp, n: int, step: str = "1s", seed: int = 0, columns: tuple[str, ...] = ("a", "b", "c")) -> pd.DataFrame:
    """以 end 结尾的 n 个点，数值在 0–100 左右。"""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=end, periods=n, freq=step, name="time")
    base = np.linspace(0, 3 * np.pi, n)
    return pd.DataFrame({c: 50 + 40 * np.sin(base + i) + rng.normal(0, 3, n) for i, c in enumerate(columns)}, index=index)


def plot_of(renderer: Renderer, theme: str | None = None, scale: float = 1.0) -> Any:
    """绘制器某个变体上的 TimeSeriesPlot。"""
    return renderer.page(theme, scale).artists["plot"]


def ink_at_edges(png: bytes, face: str, border: int) -> list[str]:
    """图片最外 border 像素里与底色明显不同的像素所在的边（上、下、左、右）。"""
    image = pixels(png)
    background = np.array([round(c * 255) for c in to_rgb(face)], dtype=np.int16)
    ink = np.abs(image - background).max(axis=2) > 16
    edges = {"top": ink[:border], "bottom": ink[-border:], "left": ink[:, :border], "right": ink[:, -border:]}
    return [name for name, part in edges.items() if part.any()]


def walk_across_a_minute(n: int, step: int = 1) -> list[pd.DataFrame]:
    """最新时间从 14:41:50 每 step 秒走到 14:42:10 的窗口（每帧 n 个 1 秒间隔的点）。"""
    return [frame(START + pd.Timedelta(seconds=s), n) for s in range(0, 21, step)]


def x_tick_labels(plot: Any) -> list[Any]:
    """画出来的 x 刻度标签（Text）：按当前的 x 范围重新算一遍刻度（与画出来的相同），取范围内显示的。"""
    axis = plot.axes.xaxis
    axis.get_ticklabels()
    low, high = sorted(plot.axes.get_xlim())
    return [
        t.label1 for t in axis.get_major_ticks() if low <= t.get_loc() <= high and t.label1.get_visible() and t.label1.get_text()
    ]


def tick_texts(plot: Any) -> list[str]:
    return [label.get_text() for label in x_tick_labels(plot)]


def boxes(plot: Any) -> dict[str, Any]:
    """画好之后各部分在画布上的外框（像素）：标注、刻度标签、数据点、坐标轴、图例。"""
    renderer = plot.canvas.get_renderer()
    labels = [(d, d.label.get_window_extent(renderer)) for d in plot.drawn if d.label is not None and d.label.get_visible()]
    ticks = [label.get_window_extent(renderer) for label in x_tick_labels(plot)]
    for ax in filter(None, (plot.axes, plot.right)):
        for tick in ax.yaxis.get_major_ticks():
            low, high = sorted(ax.get_ylim())
            if low <= tick.get_loc() <= high:
                for text in (tick.label1, tick.label2):
                    if text.get_visible() and text.get_text():
                        ticks.append(text.get_window_extent(renderer))
    points = []
    for d in plot.drawn:
        artist = d.artist
        if hasattr(artist, "get_xydata"):
            xy = artist.get_xydata()
        else:
            xy = np.concatenate([p.vertices for p in artist.get_paths()] or [np.empty((0, 2))])
        xy = xy[np.isfinite(xy).all(axis=1)]
        points.append(d.axes.transData.transform(xy) if len(xy) else np.empty((0, 2)))
    legend = plot.legend.get_window_extent(renderer) if plot.legend is not None else None
    return {"labels": labels, "ticks": ticks, "points": np.concatenate(points), "axes": plot.axes.bbox, "legend": legend}


def check_labels(plot: Any, expected: int) -> list[str]:
    """最新值标注的外框：全都显示，互不重叠，在坐标轴框内，在所有数据右边，不碰刻度标签与图例。"""
    found = boxes(plot)
    labels = found["labels"]
    assert len(labels) == expected, [d.label.get_text() for d, _ in labels]
    for (a, box_a), (b, box_b) in combinations(labels, 2):
        assert not box_a.overlaps(box_b), f"{a.label.get_text()!r} overlaps {b.label.get_text()!r}"
    inner = found["axes"].padded(-1)
    rightmost = found["points"][:, 0].max()
    for drawn, box in labels:
        text = drawn.label.get_text()
        assert inner.contains(box.x0, box.y0) and inner.contains(box.x1, box.y1), f"{text!r} {box} leaves the axes {inner}"
        # 数据线宽 1.5 pt、散点半径 1.5 pt：标注左边缘在最右的数据点再往右至少 1 像素
        assert box.x0 > rightmost + 1, f"{text!r} at x={box.x0:.1f} is drawn over data reaching x={rightmost:.1f}"
        for tick in found["ticks"]:
            assert not box.overlaps(tick), f"{text!r} overlaps a tick label"
        if found["legend"] is not None:
            assert not box.overlaps(found["legend"]), f"{text!r} overlaps the legend"
    return [drawn.label.get_text() for drawn, _ in labels]


def ends(values: dict[str, float], n: int = 120, seed: int = 1) -> pd.DataFrame:
    """每列从随机游走开始、最后一个点正好是给定值的数据。"""
    data = frame(START, n, seed=seed, columns=tuple(values))
    for column, value in values.items():
        data.loc[data.index[-1], column] = value
        data[column] = np.where(np.arange(n) < n - 1, data[column] / 100 * abs(value or 1), value)
    return data


ADVERSARIAL = {
    # 三条 CPU 曲线几乎停在同一个值上
    "three_same": ({"unit": "percent", "ylim": [0, 100]}, {"a": 27.22, "b": 27.31, "c": 27.18}),
    # 一条在范围顶端，一条在底端，一条在中间
    "top_bottom": ({"unit": "percent", "ylim": [0, 100]}, {"a": 100.0, "b": 0.0, "c": 97.84}),
    # 大数与小数（普通单位），每条一个自动范围
    "large": ({}, {"a": 1.25e9, "b": 1.2501e9, "c": 0.9e9}),
    "tiny": ({}, {"a": 1.253e-5, "b": 0.8208e-5, "c": 1.2531e-5}),
    "fractions": ({}, {"a": 1.253, "b": 0.8208, "c": 1.2529}),
}


@pytest.mark.parametrize("size", [(800, 400), (400, 250)])
@pytest.mark.parametrize("kind", ["line", "step", "scatter", "area", "bar"])
@pytest.mark.parametrize("case", list(ADVERSARIAL))
def test_last_value_labels_never_overlap_anything(case: str, kind: str, size: tuple[int, int]) -> None:
    """以前：三个 CPU 标注叠成一团，“97.84” 压在 “27.22” 上，标注压在自己的线下面。"""
    options, values = ADVERSARIAL[case]
    series = {c: c for c in values}
    renderer = Renderer(chart(size, kind=kind, series=series, annotate_last=True, **options))
    renderer.render(ends(values, n=40 if kind == "bar" else 120))
    texts = check_labels(plot_of(renderer), expected=3)
    # 同一个轴：同样的小数位数、同样的后缀
    parts = [re.fullmatch(r"-?\d+(?:\.(\d+))?(.*)", text) for text in texts]
    assert all(parts), texts
    assert len({len(part.group(1) or "") for part in parts}) == 1, texts
    assert len({part.group(2) for part in parts}) == 1, texts


def test_labels_on_two_axes_share_the_strip_and_keep_their_own_format() -> None:
    """右侧 y 轴：标注在右边框以内（以前有一个被右轴的刻度标签盖住），各轴自己的格式，字节只用一个前缀。"""
    series = {"a": "温度", "b": {"label": "流量", "axis": "right"}, "c": {"label": "峰值", "axis": "right"}}
    renderer = Renderer(chart(series=series, annotate_last=True, y2unit="bytes"))
    data = ends({"a": 23.5, "b": 900 * 1024, "c": 3.2 * 1024**2})
    renderer.render(data)
    texts = check_labels(plot_of(renderer), expected=3)
    left, *right = texts
    assert re.fullmatch(r"23\.\d", left), texts
    # 900 KiB 与 3.2 MiB 在同一个轴上：都用 MiB，小数位数相同
    assert all(t.endswith(" MiB") for t in right), texts
    assert len({len(t.split(" ")[0].split(".")[1]) for t in right}) == 1, texts
    # 刻度标签也只用一个前缀
    ticks = [t.get_text() for t in plot_of(renderer).right.get_yticklabels() if t.get_text()]
    assert len({t.split(" ")[-1] for t in ticks}) == 1, ticks


def test_labels_stay_apart_while_the_data_moves() -> None:
    """局部重绘：数据每帧变化、标注每帧重新摆放，始终互不重叠、不压数据（两个轴，窄图，2 倍）。"""
    series = {"a": "甲", "b": {"label": "乙", "axis": "right"}, "c": "丙"}
    renderer = Renderer(chart((400, 250), series=series, annotate_last=True, unit="percent", y2unit="bytes/s"))
    for s in range(15):
        data = frame(START + pd.Timedelta(seconds=s), 200, seed=s)
        data["b"] *= 1024**2
        data.loc[data.index[-1], ["a", "c"]] = [50 + s, 50 + s * 0.9]
        renderer.render(data, scale=2.0)
        check_labels(plot_of(renderer, scale=2.0), expected=3)


@pytest.mark.parametrize(
    ("n", "step", "pattern", "offset"),
    [
        (60, "1s", r"\d\d:\d\d:\d\d", r"2026-11-25"),  # 秒级：每个刻度都写全
        (300, "1s", r"\d\d:\d\d", r"2026-11-25"),  # 分钟级
        (200, "10min", r"\d\d:\d\d|\d\d-\d\d", r"2026-11-25"),  # 小时级，跨天处写 月-日
        (300, "1h", r"\d\d-\d\d", r"2026"),  # 天级
    ],
)
def test_dates_are_written_as_a_chinese_reader_writes_them(n: int, step: str, pattern: str, offset: str) -> None:
    """以前：角上是 “2026-Nov-25”，秒级刻度是含糊的 “30 40 50 14:42 10”。"""
    renderer = Renderer(chart())
    for s in range(0, 21, 5):
        renderer.render(frame(pd.Timestamp("2026-11-25 14:41:50") + pd.Timedelta(seconds=s), n, step=step))
        plot = plot_of(renderer)
        texts = tick_texts(plot)
        assert len(texts) >= 2, texts
        assert all(re.fullmatch(pattern, t) for t in texts), texts
        assert re.fullmatch(offset, plot.axes.xaxis.offsetText.get_text()), plot.axes.xaxis.offsetText.get_text()


@pytest.mark.parametrize(
    ("size", "scale"), [((400, 250), 1.0), ((400, 250), 2.0), ((640, 320), 1.0), ((800, 400), 2.0), ((1190, 400), 1.0)]
)
def test_x_tick_labels_never_overlap(size: tuple[int, int], scale: float) -> None:
    """从 10 秒到一年多的窗口：x 刻度标签两两不重叠，也都在图片以内；窄图上刻度更少。"""
    spans = ["10s", "45s", "2min", "7min", "40min", "2h", "5h", "20h", "2D", "5D", "12D", "40D", "100D", "300D"]
    for span in spans:
        renderer = Renderer(chart(size, window=span, annotate_last=True))
        seconds = pd.Timedelta(span).total_seconds()
        for shift in (0, 0.37):
            end = pd.Timestamp("2026-11-25 14:42:00") + pd.Timedelta(seconds=seconds * shift)
            renderer.render(frame(end, 120, step=f"{seconds / 100}s"), scale=scale)
            plot = plot_of(renderer, scale=scale)
            renderer_ = plot.canvas.get_renderer()
            labels = [label.get_window_extent(renderer_) for label in x_tick_labels(plot)]
            assert len(labels) >= 2, (span, size, tick_texts(plot))
            for a, b in combinations(labels, 2):
                assert not a.overlaps(b), (span, size, scale, tick_texts(plot))
            assert all(box.x0 >= 0 and box.x1 <= plot.figure.bbox.width for box in labels), (span, size)


def test_narrow_figures_get_fewer_x_ticks() -> None:
    data = frame(START, 300)
    counts = {}
    for size in ((400, 250), (1190, 400)):
        renderer = Renderer(chart(size))
        renderer.render(data)
        counts[size] = len(tick_texts(plot_of(renderer)))
    assert counts[(400, 250)] < counts[(1190, 400)], counts


def gap_frame(seconds: list[float]) -> pd.DataFrame:
    """给定时刻（秒）上的数据，a 列恒为 50。"""
    index = pd.DatetimeIndex([START + pd.Timedelta(seconds=s) for s in seconds], name="time")
    return pd.DataFrame({"a": 50.0, "b": 30.0, "c": 10.0}, index=index)


def colour_in_columns(png: bytes, plot: Any, start: float, end: float, colour: str) -> bool:
    """图片上时间 start–end 秒（相对 START）之间的竖条里，有没有接近 colour 的像素。"""
    x0, x1 = (plot.axes.transData.transform((mdates.date2num(START + pd.Timedelta(seconds=s)), 0))[0] for s in (start, end))
    image = pixels(png)
    height = image.shape[0]
    box = plot.axes.bbox
    rows = slice(int(height - box.y1) + 2, int(height - box.y0) - 2)
    target = np.array([round(c * 255) for c in to_rgb(colour)], dtype=np.int16)
    strip = image[rows, int(x0) + 2 : int(x1) - 2]
    return bool((np.abs(strip - target).max(axis=2) < 60).any())


# 1 秒间隔，中间停了 60 秒（重启或数据源中断）；以及重启后只有很少几个点的窗口
GAPS = {
    "long_window": [*range(0, 100), *range(160, 200)],
    "few_points": [0, 1, 2, 90, 91],
    "three_points": [0, 1, 100],
}


@pytest.mark.parametrize("kind", ["line", "step", "area", "area_stacked"])
@pytest.mark.parametrize("case", list(GAPS))
def test_gaps_are_drawn_as_breaks(kind: str, case: str) -> None:
    """以前：缺口两边被一条直线（或一块斜的面积）连起来。"""
    seconds = GAPS[case]
    options = {"kind": "area", "stacked": True} if kind == "area_stacked" else {"kind": kind}
    renderer = Renderer(chart(series={"a": "甲"}, legend=False, **options))
    png = renderer.render(gap_frame(seconds))
    plot = plot_of(renderer)
    jump = int(np.argmax(np.diff(seconds)))
    before, after = seconds[jump], seconds[jump + 1]
    colour = THEMES["light"].cycle[0]
    # 缺口中间没有这条序列的颜色；缺口两边有
    middle = before + (after - before) * 0.3, before + (after - before) * 0.7
    assert not colour_in_columns(png, plot, *middle, colour), f"{kind}: the gap {before}–{after} s is bridged"
    if kind.startswith("area"):
        assert len(plot.drawn[0].artist.get_paths()) == 2


def test_regular_data_with_jitter_is_not_broken() -> None:
    """采样时刻有抖动、偶尔晚一点的数据：仍是一条连续的线（不误判为缺口）。"""
    rng = np.random.default_rng(5)
    seconds = np.cumsum(rng.uniform(0.8, 1.2, 200))
    seconds[50:] += 1.5  # 一次 2.5 倍间隔的延迟：不算缺口
    renderer = Renderer(chart(series={"a": "甲"}, kind="line"))
    renderer.render(gap_frame(list(seconds)))
    assert np.isfinite(plot_of(renderer).drawn[0].artist.get_ydata()).all()


def test_bars_are_not_affected_by_gaps() -> None:
    seconds = GAPS["long_window"]
    renderer = Renderer(chart(series={"a": "甲"}, kind="bar"))
    renderer.render(gap_frame(seconds))
    assert len(plot_of(renderer).drawn[0].artist.get_paths()) == len(seconds)


def test_label_boxes_helper_detects_an_overlap() -> None:
    """对照组：把两个标注放到同一处，检查必须失败（check_labels 不是什么都放过）。"""
    renderer = Renderer(chart(annotate_last=True))
    renderer.render(frame(START, 120))
    plot = plot_of(renderer)
    first, second = (d.label for d in plot.drawn)
    second.set_position(first.get_position())
    with pytest.raises(AssertionError, match="overlaps"):
        check_labels(plot, expected=2)
    assert isinstance(first.get_window_extent(plot.canvas.get_renderer()), Bbox)
