"""OpenAPI 文档里的每个操作，以数据写出：一张表，每行一个（路径, 方法）；文本是英文（参考文档）。

新增或修改路由时改这张表（tests/test_openapi.py 检查文档与 app 的路由和方法一一对应）。表里只写不随设置变化的部分；
随设置变化的部分按名字引用，由 livechart.openapi.document 填入：
- params 里的 "chart" / "job"：路径参数，枚举当前的图表名与任务 id；其余名字见 PARAMETERS；
- body 里的 "add_job" / "patch_job"：任务请求体（livechart/openapi_jobs.py）；"any"：内容不用的 JSON 对象；
- errors：按状态码列出的 JSON 错误响应（ERROR_TEXTS），接在 responses 后面。
/scheduler 开头的路径是 Flask-APScheduler 的路由（修改由 livechart.control 执行），关掉 SCHEDULER_API_ENABLED 时不写进文档。
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from livechart.export import DEFAULT_LIMIT
from livechart.export import FORMATS
from livechart.export import MAX_LIMIT
from livechart.openapi_schemas import ref

JSON = "application/json"


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """内容为 JSON 的响应。"""
    return {"description": description, "content": {JSON: {"schema": schema}}}


@dataclass(frozen=True)
class Operation:
    """文档里的一个操作。responses：成功（及其他非 Error）的响应；errors：接在后面的错误状态码。"""

    path: str
    method: str
    summary: str
    responses: dict[str, Any] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    params: tuple[str, ...] = ()
    body: str | None = None


# 错误响应的说明（响应体都是 Error）
ERROR_TEXTS = {
    400: "invalid request (the message names the field)",
    401: "credentials required (HTTP Basic)",
    403: "refused: cross-site request, or no credentials and not a loopback client",
    404: "no such chart or job (…/data also: a chart drawn by its own function without a source has no data)",
    409: "conflicts with the current state (the message says which)",
    413: "request body too large",
    415: "mutating requests must send Content-Type: application/json",
    424: "the job ran but the chart was not redrawn: its source or the drawing failed (the message says how)",
    503: "not available now: the shared cache (Redis) is unavailable, the chart has no image yet, or (POST …/run) "
    "the process that owns the chart did not answer in time",
}
# /scheduler 守卫的回答（livechart/security.py）；设置了凭据时带这些错误的操作写明 HTTP Basic
GUARDED = (401, 403)
# 修改类请求都可能得到的错误；503：多进程模式下 Redis 不可用（修改先写进 Redis）
MUTATING = (400, *GUARDED, 413, 415, 503)
# 修改一个任务（可能没有这个任务：404）与修改调度器状态（可能与当前状态冲突：409）的请求可能得到的错误
JOB_CHANGE = (404, *MUTATING)
STATE_CHANGE = (409, *MUTATING)
# 请求体的说明：按 Operation.body 的名字；都必须以 application/json 发送（否则 415）
BODY_TEXTS = {
    "add_job": "the job; id and kwargs.chart name the same chart",
    "patch_job": "the changes",
    # 不需要内容的修改类请求：一个 JSON 对象（内容不用），空的请求体也可以，但仍要 Content-Type: application/json
    "any": "any JSON object (ignored); an empty body with Content-Type: application/json also works",
}

# 不随设置变化的参数：按 Operation.params 的名字
PARAMETERS: dict[str, dict[str, Any]] = {
    "t": {
        "name": "t",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "cache buster (the page sends the time the version it asks for is due); ignored",
    },
    "format": {
        "name": "format",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(FORMATS), "default": "json"},
    },
    "since": {
        "name": "since",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "format": "date-time"},
        "description": "only rows after this time (exclusive); ISO 8601, without an offset it is the server's local time",
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "description": "at most this many rows: the last ones after `since`",
    },
}

# 表里共用的响应片段。STRING：字符串，作响应头或文本内容
STRING = {"schema": {"type": "string"}}
PNG = {
    "200": {
        "description": "the current PNG",
        "headers": {
            "ETag": STRING,
            "Last-Modified": STRING,
            "Cache-Control": STRING,
            "X-Livechart-Version": STRING,
            "X-Livechart-Rendered-At": {
                **STRING,
                "description": "when this image was drawn, epoch milliseconds (Last-Modified has whole seconds)",
            },
        },
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
    },
    "304": {
        "description": "not modified: If-None-Match names the current ETag, or (without If-None-Match) "
        "If-Modified-Since is later than the moment the current image was drawn"
    },
}
DATA = {
    "200": {
        "description": "the rows after `since` (exclusive), the last `limit` of them",
        "headers": {"ETag": STRING, "Cache-Control": STRING, "X-Livechart-Version": STRING, "X-Livechart-Total": STRING},
        "content": {JSON: {"schema": ref("ChartData")}, "text/csv": STRING},
    },
    "304": {"description": "not modified (If-None-Match)"},
}
HEALTH_OR_ERROR = {"oneOf": [ref("Health"), ref("Error")]}
JOB = json_response(ref("Job"), "the job")
DONE = {"204": {"description": "done"}}
JOBS = {"type": "array", "items": ref("Job")}
RUN = {"allOf": [ref("Job"), {"type": "object", "required": ["run"], "properties": {"run": ref("Run")}}]}

# 服务自己的路由（views.py、data_api.py、ops.py）
SERVICE = (
    Operation("/", "get", "the page", {"200": {"description": "HTML", "content": {"text/html": STRING}}}),
    Operation("/plot.png", "get", "the default chart (first in CHARTS)", PNG, errors=(503,), params=("t",)),
    Operation("/charts/{name}.png", "get",
              "one chart's PNG. name may carry a variant: <chart>[.light|.dark][.narrow][@2x], e.g. cpu.dark@2x "
              "(a variant asked for in the last 5 minutes is redrawn in the background; its first request draws it)",
              PNG, errors=(503, 404), params=("chart", "t")),
    Operation("/api/charts", "get", "status of every chart", {"200": json_response(ref("ChartsStatus"), "status")},
              errors=(503,)),
    Operation("/api/charts/{name}", "get", "status of one chart", {"200": json_response(ref("ChartStatus"), "status")},
              errors=(404, 503), params=("chart",)),
    Operation("/api/charts/{name}/data", "get", "the rolling window the chart is drawn from (JSON, or CSV with ?format=csv)",
              DATA, errors=(400, 404, 503), params=("chart", "format", "since", "limit")),
    Operation("/healthz", "get",
              "healthy while the scheduler runs and every chart has a job and is neither stale nor failing "
              "(a job paused by the user is healthy)",
              {"200": json_response(ref("Health"), "healthy"),
               "503": json_response(HEALTH_OR_ERROR, "unhealthy: reasons says why")}),
    Operation("/readyz", "get", "ready once every chart has an image",
              {"200": json_response(ref("Health"), "ready"),
               "503": json_response(HEALTH_OR_ERROR, "not ready: names the charts")}),
    Operation("/metrics", "get", "Prometheus metrics",
              {"200": {"description": "exposition format", "content": {"text/plain": STRING}}}),
    Operation("/openapi.json", "get", "this document", {"200": json_response({"type": "object"}, "OpenAPI 3 document")}),
)  # fmt: skip

# /scheduler：Flask-APScheduler 的路由，守卫在 livechart/security.py，修改由 livechart/control.py 执行
SCHEDULER = (
    Operation("/scheduler", "get", "scheduler info", {"200": json_response(ref("SchedulerInfo"), "info")}, errors=GUARDED),
    Operation("/scheduler/jobs", "get", "list jobs", {"200": json_response(JOBS, "jobs")}, errors=GUARDED),
    Operation("/scheduler/jobs", "post",
              "add the redraw job of a chart that has none (only livechart.jobs:redraw, interval trigger)",
              {"200": json_response(ref("Job"), "the new job")}, errors=STATE_CHANGE, body="add_job"),
    Operation("/scheduler/jobs/{job_id}", "get", "one job", {"200": JOB}, errors=(404, *GUARDED), params=("job",)),
    Operation("/scheduler/jobs/{job_id}", "patch",
              'change a job, e.g. {"seconds": 2}; what GET returns, changed and sent back, works too',
              {"200": json_response(ref("Job"), "the changed job")}, errors=JOB_CHANGE, params=("job",), body="patch_job"),
    Operation("/scheduler/jobs/{job_id}", "delete", "remove a job (the chart stops redrawing; status and /healthz say so)",
              {"204": {"description": "removed"}}, errors=JOB_CHANGE, params=("job",), body="any"),
    Operation("/scheduler/jobs/{job_id}/pause", "post", "pause a job", {"200": JOB},
              errors=JOB_CHANGE, params=("job",), body="any"),
    Operation("/scheduler/jobs/{job_id}/resume", "post", "resume a job", {"200": JOB},
              errors=JOB_CHANGE, params=("job",), body="any"),
    Operation("/scheduler/jobs/{job_id}/run", "post",
              "redraw now, in the request: 200 with the new version, 424 when the source or the drawing failed, "
              "409 while another redraw of the chart is in progress, 503 when the cache cannot store it",
              {"200": json_response(RUN, "redrawn")}, errors=(404, 409, 424, *MUTATING), params=("job",), body="any"),
    Operation("/scheduler/pause", "post", "pause all job processing in this process (409 when the scheduler is not started)",
              DONE, errors=STATE_CHANGE, body="any"),
    Operation("/scheduler/resume", "post", "resume all job processing in this process (409 when the scheduler is not started)",
              DONE, errors=STATE_CHANGE, body="any"),
    Operation("/scheduler/start", "post", 'start a scheduler that is not started (LIVECHART_SCHEDULER = "off"); 409 otherwise',
              DONE, errors=STATE_CHANGE, body="any"),
    Operation("/scheduler/shutdown", "post",
              "refused (409): shutting APScheduler down is final; use /scheduler/pause and /scheduler/resume",
              errors=STATE_CHANGE, body="any"),
)  # fmt: skip
