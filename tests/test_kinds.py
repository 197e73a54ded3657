"""图表类型与选项：基准图（按像素、带容差比较，而不是按字节）与行为检查。

重新生成基准图：UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_kinds.py（tests/conftest.py 的 assert_golden）
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from livechart.chart_units import format_value
from livechart.renderer import Renderer
from livechart.spec import ConfigError
from livechart.spec import parse_chart
from tests.conftest import GOLDEN
from tests.conftest import assert_golden
from tests.conftest import built_in
from tests.conftest import pixels
from tests.conftest import require_cjk


def data(n: int = 120, step: str = "5s", columns: tuple[str, ...] = ("a", "b", "c"), seed: int = 3) -> pd.DataFrame:
    """固定时间、固定种子的数据。"""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2026-03-01 12:00:00", periods=n, freq=step, name="time")
    base = np.linspace(0, 4 * np.pi, n)
    return pd.DataFrame({c: 50 + 30 * np.sin(base + i) + rng.normal(0, 3, n) for i, c in enumerate(columns)}, index=index).clip(
        lower=0
    )


def chart(**options: Any):
    """python 数据源的图表规格（数据由测试直接交给绘制器）。"""
    raw = {
        "title": "测试图表",
        "source": {"type": "python", "callable": "tests.test_kinds:data", "columns": ["a", "b", "c"]},
        "series": {"a": "甲", "b": "乙"},
        "size": [640, 320],
    }
    raw.update(options)
    return parse_chart("t", raw)


CASES = {
    "line": ({"unit": "percent", "ylim": [0, 100], "annotate_last": True, "title": "折线：百分比与最新值"}, data()),
    "area": ({"kind": "area", "title": "面积（不堆叠）"}, data()),
    "area_stacked": (
        {
            "kind": "area",
            "stacked": True,
            "unit": "bytes/s",
            "series": {"a": "甲", "b": "乙", "c": "丙"},
            "title": "堆叠面积：字节/秒",
        },
        data() * 40_000,
    ),
    "bar": ({"kind": "bar", "title": "柱状（并排）"}, data(30, "1min")),
    "bar_stacked": ({"kind": "bar", "stacked": True, "title": "柱状（堆叠）", "annotate_last": True}, data(30, "1min")),
    "step": ({"kind": "step", "title": "阶梯"}, data(40)),
    "scatter": ({"kind": "scatter", "title": "散点", "legend": False}, data(200)),
    "right_axis_dark": (
        {
            "theme": "dark",
            "series": {"a": "温度", "b": {"label": "流量", "axis": "right", "color": "#ffcc00"}},
            "ylabel": "°C",
            "y2label": "流量",
            "y2unit": "bytes",
            "annotate_last": True,
            "title": "双 y 轴（深色主题）",
        },
        data().assign(b=lambda f: f["b"] * 1024**2),
    ),
    "window_10min": ({"window": "10min", "title": "时长窗口 10 分钟（数据只有 5 分钟）"}, data(60, "5s")),
    "days": ({"title": "三天的数据", "window": "3D"}, data(72, "1h")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_golden_image(name: str, tmp_path: Path) -> None:
    require_cjk()
    options, frame = CASES[name]
    assert_golden(name, Renderer(chart(**options)).render(frame), tmp_path)


def test_golden_comparison_detects_a_change() -> None:
    """对照组：换一组数据，比较必须失败（容差不会大到什么都放过）。"""
    require_cjk()
    options, frame = CASES["line"]
    changed = pixels(Renderer(chart(**options)).render(frame * 0.5))
    expected = pixels((GOLDEN / "line.png").read_bytes())
    assert float((np.abs(changed - expected).max(axis=2) > 40).mean()) > 0.002


@pytest.mark.parametrize(
    ("unit", "value", "precise", "text"),
    [
        ("percent", 42, False, "42%"),
        ("percent", 42.345, True, "42.3%"),
        ("bytes", 512, False, "512 B"),
        ("bytes", 1536, False, "1.5 KiB"),
        ("bytes", 3 * 1024**3, False, "3 GiB"),
        ("bytes/s", 10 * 1024**2, False, "10 MiB/s"),
        ("plain", 1234.5678, False, "1235"),
        ("plain", 0.000123, False, "0.000123"),
        ("plain", float("nan"), True, ""),
    ],
)
def test_format_value(unit: str, value: float, precise: bool, text: str) -> None:
    assert format_value(unit, value, precise) == text


def test_stacked_area_tops_are_cumulative() -> None:
    frame = data(10)
    renderer = Renderer(chart(kind="area", stacked=True))
    renderer.render(frame)
    second = built_in(renderer).drawn[1].artist.get_paths()[0].vertices
    top = second[: len(frame), 1]
    assert np.allclose(top, frame["a"] + frame["b"])


def test_side_by_side_bars_do_not_overlap() -> None:
    renderer = Renderer(chart(kind="bar"))
    renderer.render(data(10, "1min"))
    first = built_in(renderer).drawn[0].artist.get_paths()[0].vertices[:, 0]
    second = built_in(renderer).drawn[1].artist.get_paths()[0].vertices[:, 0]
    assert first.max() <= second.min() + 1e-12


def test_last_value_label_follows_the_data() -> None:
    frame = data(20)
    renderer = Renderer(chart(annotate_last=True, unit="percent"))
    renderer.render(frame)
    label = built_in(renderer).drawn[0].label
    assert label.get_text() == f"{frame['a'].iloc[-1]:.1f}%"
    renderer.render(frame.iloc[:5])
    assert label.get_text() == f"{frame['a'].iloc[4]:.1f}%"


def test_right_axis_and_legend_options() -> None:
    renderer = Renderer(chart(series={"a": "甲", "b": {"label": "乙", "axis": "right"}}, legend=False))
    assert built_in(renderer).right is not None
    assert built_in(renderer).drawn[1].axes is built_in(renderer).right
    assert built_in(renderer).axes.get_legend() is None and built_in(renderer).right.get_legend() is None
    assert built_in(Renderer(chart())).axes.get_legend() is not None


def test_duration_window_fixes_the_x_span() -> None:
    renderer = Renderer(chart(window="10min"))
    renderer.render(data(30, "5s"))
    left, right = built_in(renderer).axes.get_xlim()
    assert (right - left) * 86400 == pytest.approx(600)


def test_missing_column_is_a_clear_error() -> None:
    # 说给人看的话是中文：缺的列名与现有的列都在句子里
    with pytest.raises(ValueError, match=r"^数据里没有 'b' 列（现有的列：a）$"):
        Renderer(chart()).render(data(5, columns=("a",)))


def test_every_kind_renders_an_empty_window() -> None:
    for kind in ("line", "area", "bar", "step", "scatter"):
        png = Renderer(chart(kind=kind)).render(data(0))
        assert png.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "pie"}, "选项 'kind' 必须是 line、area、bar、step、scatter 之一，收到 'pie'"),
        ({"stacked": True}, "选项 'stacked' 只适用于 area 和 bar 图，不适用于 'line'"),
        ({"stacked": "yes", "kind": "bar"}, "选项 'stacked' 必须是 True 或 False，收到 'yes'"),
        ({"unit": "kelvin"}, "选项 'unit' 必须是 plain、percent、bytes、bytes/s 之一"),
        ({"theme": "neon"}, "选项 'theme' 必须是 light、dark 之一"),
        ({"window": "10 parsecs"}, "选项 'window' = '10 parsecs' 不是时长"),
        ({"window": "0s"}, "选项 'window' = '0s' 必须在 1 秒到 366 天之间"),
        ({"window": 1}, "选项 'window' = 1 超出范围 [2, 100000]"),
        ({"y2label": "x"}, '选项 \'y2label\' 需要至少一条 "axis": "right" 的序列'),
        ({"series": {"a": {"axis": "middle"}}}, "序列 'a'：选项 'axis' 必须是 left、right 之一，收到 'middle'"),
        ({"series": {"a": {"color": "not-a-colour"}}}, "序列 'a'：选项 'color' = 'not-a-colour' 不是 Matplotlib 认识的颜色"),
        ({"series": {"a": {"lable": "x"}}}, "序列 'a'：未知选项 'lable'"),
        ({"series": {"zzz": "x"}}, "数据源 'python' 不产生序列 'zzz'"),
        ({"legend": 1}, "选项 'legend' 必须是 True 或 False，收到 1"),
        ({"ylim": "tight"}, "选项 'ylim' 必须是 [下限, 上限] 或 \"auto\""),
    ],
)
def test_chart_validation_names_chart_and_option(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^CHARTS\['t'\]：.*" + __import__("re").escape(message)):
        chart(**options)


def test_series_may_be_omitted_when_the_source_declares_columns() -> None:
    spec = parse_chart("s", {"title": "系统", "source": {"type": "system", "metrics": ["load"]}})
    assert [(s.column, s.label) for s in spec.series] == [
        ("load1", "1 分钟负载"),
        ("load5", "5 分钟负载"),
        ("load15", "15 分钟负载"),
    ]


def test_series_is_required_when_the_source_cannot_declare_columns() -> None:
    with pytest.raises(ConfigError, match="缺少选项 'series'：数据源 'python' 没有声明它的列"):
        parse_chart("p", {"title": "p", "source": {"type": "tests.test_kinds:data"}})
