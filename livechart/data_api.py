"""蓝图：图表背后的数据，GET /api/charts/<name>/data（JSON 或 CSV），如同 Grafana 的 Inspect → Data。

数据是图表据以绘制的滚动窗口，取自共享的窗口（livechart/history.py），而不是本进程重绘器里的副本：
使用 Redis 时每个进程（包括不运行任务的 web 角色）回答同样的数据。version 是图片的版本号，
客户端可以把数据与 PNG（X-Livechart-Version）对应起来。换算在 livechart/export.py（纯数据代码）。
访问规则与 /api/charts 相同：公开、只读。
"""

from __future__ import annotations

import hashlib
import io

import pandas as pd
from flask import Blueprint
from flask import Response
from flask import abort
from flask import jsonify
from flask import request
from flask import send_file
from tzlocal import get_localzone

from livechart import export
from livechart import history
from livechart import store
from livechart.views import known

bp = Blueprint("data", __name__)

# 认识的查询参数；其他参数（多半是拼错了）返回 400 并指明它们
PARAMS = ("format", "since", "limit")
# 读取期间图片换了版本时重读的次数
SNAPSHOT_TRIES = 3


def _version(image: store.ChartImage | None) -> int:
    return image.version if image else 0


def _snapshot(chart: str) -> tuple[pd.DataFrame | None, int]:
    """读取滚动窗口与当前图片的版本号，二者尽量属于同一次重绘。

    前后各读一次版本号，读取期间换了一版就重读。重绘先存窗口、再画图存图片，
    所以在一次绘制的几十毫秒里，数据可能比版本号新一个节拍（README 写明）。
    """
    for _ in range(SNAPSHOT_TRIES):
        before = _version(store.load_image(chart))
        window = history.load(chart)
        after = _version(store.load_image(chart))
        if before == after:
            break
    return window, after


def _query() -> tuple[str, str | None, int]:
    """校验查询参数：(format, since 原文, limit)；不合法时 400，消息指明参数。"""
    args = request.args
    unknown = sorted(set(args) - set(PARAMS))
    if unknown:
        abort(400, f"不认识的查询参数 {', '.join(map(repr, unknown))}；可用的参数：{', '.join(PARAMS)}")
    repeated = [name for name in PARAMS if len(args.getlist(name)) > 1]
    if repeated:
        abort(400, f"查询参数 {repeated[0]!r} 只能给一次")
    try:
        form = export.parse_format(args.get("format", "json"))
        limit = export.parse_limit(args["limit"]) if "limit" in args else export.DEFAULT_LIMIT
    except export.QueryError as exc:
        abort(400, str(exc))
    return form, args.get("since"), limit


@bp.get("/api/charts/<name>/data")
def chart_data(name: str) -> Response:
    """图表当前的滚动窗口：JSON（columns、series、rows、version）或 CSV（?format=csv）。"""
    spec = known(name).spec
    if spec.source_type is None:
        abort(404, f"图表 {name!r} 没有可导出的数据：它没有数据源，由绘图函数自己取数据")
    form, since_text, limit = _query()
    zone = get_localzone()
    try:
        since = None if since_text is None else export.parse_since(since_text, zone)
    except export.QueryError as exc:
        abort(400, str(exc))
    window, version = _snapshot(name)
    # draw 图表的数据源不声明列、也没写 series 时：窗口里的全部列
    columns = [series.column for series in spec.series] or ([] if window is None else [str(c) for c in window.columns])
    table = export.select(window, columns, zone, since, limit)
    if form == "csv":
        body = export.to_csv(table).encode()
        # send_file 写 Content-Disposition（非 ASCII 的图表名按 RFC 5987 编码）
        response = send_file(
            io.BytesIO(body), mimetype="text/csv", as_attachment=True, download_name=f"{name}.csv", conditional=False, etag=False
        )
    else:
        response = jsonify(
            chart=name,
            title=spec.title,
            version=version,
            timezone=str(zone),
            columns=[export.TIME_COLUMN, *table.columns],
            series=[{"column": s.column, "label": s.label, "axis": s.axis} for s in spec.series]
            or [{"column": column, "label": column, "axis": "left"} for column in columns],
            rows=export.rows(table),
            total=table.total,
        )
        body = response.get_data()
    # ETag 按版本号与内容计算：同一份数据、同一个版本才 304
    response.set_etag(hashlib.blake2b(b"%d\n%b" % (version, body), digest_size=16).hexdigest())
    # no-cache：可以缓存，但每次都要重新验证（ETag）
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Livechart-Version"] = str(version)
    response.headers["X-Livechart-Total"] = str(table.total)
    response.make_conditional(request)  # 就地改成 304（或保持 200）
    return response
