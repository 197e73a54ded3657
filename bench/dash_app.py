"""对照组：Dash 的常见写法——dcc.Interval 每秒触发回调，回调为这个观看者重画同一个图表，返回 PNG 的 data URI。

图表与 livechart 的默认图表相同（bench.render.naive_pyplot：同样的数据、序列、格式与标注），
每次回调新建 Figure 再关闭（教程里的写法）。gunicorn bench.dash_app:server。
"""

import base64

from dash import Dash
from dash import Input
from dash import Output
from dash import dcc
from dash import html

from bench.render import frames_for
from bench.render import naive_pyplot
from config import Config
from livechart.fonts import configure_fonts
from livechart.spec import parse_chart

configure_fonts()
SPEC = parse_chart("cpu", Config.CHARTS["cpu"])
FRAMES = frames_for(SPEC, 60)

app = Dash(__name__)
server = app.server
app.layout = html.Div([html.Img(id="chart"), dcc.Interval(id="tick", interval=1000)])


@app.callback(Output("chart", "src"), Input("tick", "n_intervals"))
def redraw(n_intervals: int | None) -> str:
    """每个观看者每秒一次：画出当前窗口，返回 data URI。"""
    png = naive_pyplot(SPEC, FRAMES[(n_intervals or 0) % len(FRAMES)])
    return "data:image/png;base64," + base64.b64encode(png).decode()
