"""/scheduler API：Flask-APScheduler 的 REST 接口，以及 livechart 加在它前面的守卫。"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
import redis
import requests

from livechart import ConfigError
from livechart import alignment
from livechart import coordination
from livechart import jobs
from livechart import keys
from livechart import store
from livechart.extensions import scheduler
from livechart.leases import EPOCH
from tests.conftest import RedisServer
from tests.conftest import Server
from tests.conftest import shutdown_scheduler
from tests.conftest import wait_for

JSON = {"Content-Type": "application/json"}
REMOTE = {"REMOTE_ADDR": "203.0.113.9"}
NEW_JOB = {"id": "redraw-demo", "func": "livechart.jobs:redraw", "kwargs": {"chart": "demo"}, "trigger": "interval", "seconds": 4}


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def secured(make_app: Any) -> Any:
    """设置了 API 凭据的 app。"""
    return make_app("testing", LIVECHART_API_USER="ops", LIVECHART_API_PASSWORD="s3cret")


def assert_json_error(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "message"}
    assert fragment in body["message"]
    assert "Traceback" not in response.get_data(as_text=True)


# --- 查看、暂停、恢复、立即运行、修改间隔 ---


def test_list_and_inspect_jobs(client: Any) -> None:
    jobs_ = client.get("/scheduler/jobs").get_json()
    assert sorted(j["id"] for j in jobs_) == ["redraw-cpu", "redraw-demo"]
    job = client.get("/scheduler/jobs/redraw-cpu").get_json()
    assert job["func"] == "livechart.jobs:redraw"
    assert job["kwargs"] == {"chart": "cpu"}
    assert job["seconds"] == 2


def test_pause_resume_run_and_patch_interval(app: Any, client: Any) -> None:
    paused = client.post("/scheduler/jobs/redraw-cpu/pause", headers=JSON)
    assert paused.status_code == 200 and paused.get_json()["next_run_time"] is None
    resumed = client.post("/scheduler/jobs/redraw-cpu/resume", headers=JSON)
    assert resumed.status_code == 200 and resumed.get_json()["next_run_time"] is not None
    ran = client.post("/scheduler/jobs/redraw-cpu/run", headers=JSON)
    assert ran.status_code == 200
    with app.app_context():
        assert store.load_image("cpu").version == 2
    patched = client.patch("/scheduler/jobs/redraw-cpu", json={"trigger": "interval", "seconds": 2 * 60, "name": "cpu 每两分钟"})
    assert patched.status_code == 200
    assert patched.get_json()["minutes"] == 2
    assert scheduler.get_job("redraw-cpu").trigger.interval.total_seconds() == 120


def test_delete_and_add_back_a_job(client: Any) -> None:
    assert client.delete("/scheduler/jobs/redraw-demo", headers=JSON).status_code == 204
    assert client.get("/api/charts/demo").get_json()["interval"] is None
    added = client.post("/scheduler/jobs", json=NEW_JOB)
    assert added.status_code == 200
    assert added.get_json()["seconds"] == 4
    assert_json_error(client.post("/scheduler/jobs", json=NEW_JOB), 409, "任务 'redraw-demo' 已经存在")


def test_get_change_seconds_and_patch_the_same_object_back(client: Any) -> None:
    """以前 "args": []、id、max_instances、next_run_time、start_date 都被拒绝。"""
    job = client.get("/scheduler/jobs/redraw-cpu").get_json()
    assert {"args", "id", "max_instances", "next_run_time", "start_date", "misfire_grace_time", "name"} <= set(job)
    patched = client.patch("/scheduler/jobs/redraw-cpu", json={**job, "seconds": 7, "next_run_time": "whenever"})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    after = patched.get_json()
    assert after["seconds"] == 7 and scheduler.get_job("redraw-cpu").trigger.interval.total_seconds() == 7
    unchanged = ("id", "name", "func", "args", "kwargs", "max_instances", "misfire_grace_time", "trigger")
    assert {k: after[k] for k in unchanged} == {k: job[k] for k in unchanged}
    # 再来一次：GET 的结果（新的 start_date）原样发回，什么都不变
    again = client.patch("/scheduler/jobs/redraw-cpu", json=after)
    assert again.status_code == 200 and again.get_json()["seconds"] == 7


def test_patch_applies_every_accepted_field_and_keeps_a_paused_job_paused(client: Any) -> None:
    """以前修改间隔（reschedule）会悄悄恢复一个暂停的任务。"""
    client.post("/scheduler/jobs/redraw-cpu/pause", json={})
    changes = {"minutes": 2, "seconds": 5, "name": "cpu 慢一点", "misfire_grace_time": None, "coalesce": False}
    patched = client.patch("/scheduler/jobs/redraw-cpu", json=changes)
    assert patched.status_code == 200, patched.get_data(as_text=True)
    body = patched.get_json()
    assert (body["minutes"], body["seconds"], body["name"], body["misfire_grace_time"]) == (2, 5, "cpu 慢一点", None)
    job = scheduler.get_job("redraw-cpu")
    assert job.trigger.interval.total_seconds() == 125 and job.coalesce is False and job.next_run_time is None
    assert client.get("/api/charts/cpu").get_json()["reason"]["code"] == "job_paused"
    # 只给单位（没有 trigger）也可以；只给 trigger 什么也不改
    assert client.patch("/scheduler/jobs/redraw-cpu", json={"seconds": 9}).get_json()["seconds"] == 9
    assert client.patch("/scheduler/jobs/redraw-cpu", json={"trigger": "interval"}).get_json()["seconds"] == 9
    assert scheduler.get_job("redraw-cpu").next_run_time is None


def test_shutdown_is_refused_and_the_charts_keep_redrawing(app: Any, client: Any) -> None:
    """APScheduler 关闭后不能再启动（docs/pitfalls.md 第 19 条）：以前 shutdown → start 之后没有任务、/healthz 却是 ok。"""
    response = client.post("/scheduler/shutdown", json={"wait": False})
    assert_json_error(response, 409, "请用 POST /scheduler/pause 和 /scheduler/resume")
    assert scheduler.running and sorted(j.id for j in scheduler.get_jobs()) == ["redraw-cpu", "redraw-demo"]
    assert_json_error(client.post("/scheduler/start", json={}), 409, "调度器已经启动，正处于暂停状态；请 POST /scheduler/resume")
    assert client.post("/scheduler/resume", json={}).status_code == 204
    assert_json_error(client.post("/scheduler/start", json={}), 409, "调度器已经在运行")
    with app.app_context():
        before = store.load_image("demo").version
    # 调度器自己的线程池照常运行任务（间隔 1 秒）
    wait_for(lambda: client.get("/api/charts/demo").get_json()["version"] > before, 10, "a scheduled redraw")
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("debug", [False, True])
def test_start_starts_a_scheduler_that_is_off(make_app: Any, monkeypatch: pytest.MonkeyPatch, debug: bool) -> None:
    """以前 FLASK_DEBUG 下 POST /scheduler/start 回答 204，调度器却没有启动（Flask-APScheduler 的 start 什么也不做）。"""
    if debug:
        monkeypatch.setenv("FLASK_DEBUG", "1")
        monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
        monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    client = make_app("testing", LIVECHART_SCHEDULER="off").test_client()
    assert client.get("/api/charts/demo").get_json()["reason"]["code"] == "scheduler_stopped"
    assert client.post("/scheduler/start", json={}).status_code == 204
    assert scheduler.running
    assert client.get("/api/charts/demo").get_json()["reason"] is None
    assert client.get("/healthz").status_code == 200


def test_start_on_a_host_that_is_not_allowed_says_so(make_app: Any) -> None:
    client = make_app("testing", LIVECHART_SCHEDULER="off", SCHEDULER_ALLOWED_HOSTS=["elsewhere"]).test_client()
    assert_json_error(client.post("/scheduler/start", json={}), 409, "SCHEDULER_ALLOWED_HOSTS")
    assert not scheduler.running


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/scheduler/jobs/nope"),
        ("post", "/scheduler/jobs/nope/pause"),
        ("post", "/scheduler/jobs/nope/resume"),
        ("post", "/scheduler/jobs/nope/run"),
        ("patch", "/scheduler/jobs/nope"),
        ("delete", "/scheduler/jobs/nope"),
    ],
)
def test_unknown_job_is_404_json(client: Any, method: str, path: str) -> None:
    response = getattr(client, method)(path, json={"trigger": "interval", "seconds": 5})
    assert_json_error(response, 404, "任务 'nope' 不存在")


# --- 只允许 livechart 自己的任务函数 ---


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"id": "pwn", "func": "os:system", "args": ["id"], "trigger": "interval"}, "不允许字段 'args'"),
        ({"id": "pwn", "func": "os:system", "args": ["id"], "trigger": "date"}, "只支持间隔触发"),
        ({**NEW_JOB, "id": "redraw-x1", "kwargs": {"chart": "x1"}}, "指向的图表 'x1' 不存在"),
        ({**NEW_JOB, "id": "pwn", "func": "os:system"}, "任务 id 必须是 'redraw-<图表名>'，收到 'pwn'"),
        ({**NEW_JOB, "func": "os:system"}, "'func' 必须是 'livechart.jobs:redraw'"),
        ({**NEW_JOB, "func": "livechart.jobs:warm"}, "'func' 必须是 'livechart.jobs:redraw'"),
        ({**NEW_JOB, "kwargs": {"chart": "cpu"}}, "任务 'redraw-demo' 的 'kwargs' 必须是"),
        ({**NEW_JOB, "kwargs": {"chart": "demo", "x": object.__name__}}, "的 'kwargs' 必须是"),
        ({**NEW_JOB, "trigger": "cron", "second": "*"}, "只支持间隔触发"),
        ({**NEW_JOB, "trigger": "date"}, "'trigger' 必须是 \"interval\""),
        ({k: v for k, v in NEW_JOB.items() if k != "trigger"}, "只支持间隔触发"),
        ({**NEW_JOB, "jitter": 1}, "不支持 'jitter'"),
        ({**NEW_JOB, "end_date": "2099-01-01T00:00:00+00:00"}, "不支持 'end_date'"),
        ({**NEW_JOB, "start_date": "2099-01-01T00:00:00+00:00"}, "不支持 'start_date'"),
        ({**NEW_JOB, "timezone": "UTC"}, "不支持 'timezone'"),
        ({**NEW_JOB, "seconds": 0}, "间隔任务要给出 weeks、"),
        ({**NEW_JOB, "seconds": 0.25}, "间隔 0.25 秒低于下限"),
        ({**NEW_JOB, "seconds": 2.5}, "间隔必须是整数秒"),
        ({**NEW_JOB, "seconds": "fast"}, "'seconds' 必须是数字"),
        ({**NEW_JOB, "seconds": 1e308, "minutes": 1e308}, "'minutes' 最大为 1440"),
        ({**NEW_JOB, "seconds": 4.0}, "'seconds' 必须是不小于 0 的整数，并且写成整数"),
        ({**NEW_JOB, "minutes": 1, "seconds": -5}, "'seconds' 必须是不小于 0 的整数"),
        ({**NEW_JOB, "name": ""}, "'name' 必须是非空字符串"),
        ({**NEW_JOB, "jobstore": "other"}, "不允许字段 'jobstore'"),
        ({**NEW_JOB, "misfire_grace_time": "soon"}, "misfire_grace_time"),
        ([1, 2, 3], "请求体必须是 JSON 对象，收到的类型：数组"),
    ],
)
def test_add_job_rejects_anything_but_livechart_redraws(client: Any, body: Any, fragment: str) -> None:
    client.delete("/scheduler/jobs/redraw-demo", headers=JSON)
    assert_json_error(client.post("/scheduler/jobs", json=body), 400, fragment)
    assert [j.id for j in scheduler.get_jobs()] == ["redraw-cpu"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"func": "os:system"}, "'func' 必须是"),
        ({"func": "livechart.jobs:redraw", "kwargs": {"chart": "demo"}}, "任务 'redraw-cpu' 的 'kwargs'"),
        ({"args": ["rm -rf /"]}, "'args' 是只读字段"),
        ({"trigger": "interval", "seconds": 0}, "间隔任务要给出"),
        ({"trigger": "interval", "seconds": -1}, "低于下限"),
        ({"trigger": "cron", "minute": "*/5"}, "只支持间隔触发"),
        ({"id": "other"}, "'id' 是只读字段"),
        ({"max_instances": 5}, "'max_instances' 是只读字段"),
        ({"max_instances": True}, "'max_instances' 是只读字段"),
        ({"start_date": "2020-01-01T00:00:00+00:00"}, "'start_date' 是只读字段"),
        ({"start_date": "soon"}, "'start_date' 是只读字段"),
        ({"next_run_time": 5}, "'next_run_time' 是只读字段"),
        ({"name": ""}, "'name' 必须是非空字符串"),
        # 以前：间隔已经改成 3 秒，然后因为 jitter 500（半途而废的修改）
        ({"trigger": "interval", "seconds": 3, "jitter": 1}, "不支持 'jitter'"),
        ({"trigger": "interval", "seconds": 3, "end_date": "2099-01-01T00:00:00+00:00"}, "不支持 'end_date'"),
        ({"trigger": "interval", "seconds": 3, "timezone": "UTC"}, "不支持 'timezone'"),
        ({"seconds": 3, "misfire_grace_time": 0}, "misfire_grace_time"),
    ],
)
def test_patch_rejects_bad_changes_and_keeps_the_job(client: Any, body: Any, fragment: str) -> None:
    before = client.get("/scheduler/jobs/redraw-cpu").get_json()
    assert_json_error(client.patch("/scheduler/jobs/redraw-cpu", json=body), 400, fragment)
    assert client.get("/scheduler/jobs/redraw-cpu").get_json() == before


@pytest.mark.parametrize("path", ["/scheduler/shutdown", "/scheduler/jobs/redraw-cpu/pause", "/scheduler/jobs"])
@pytest.mark.parametrize("body", ["-6.9e16", "[1, 2]", '"text"', "null", "true"])
def test_non_object_bodies_are_400(client: Any, path: str, body: str) -> None:
    """模糊测试发现：/scheduler/shutdown 收到 JSON 数字时 Flask-APScheduler 会 500。"""
    response = client.post(path, data=body, headers=JSON)
    assert response.status_code == 400
    assert scheduler.running


def test_invalid_json_is_400(client: Any) -> None:
    response = client.patch("/scheduler/jobs/redraw-cpu", data="{not json", headers=JSON)
    assert_json_error(response, 400, "请求体不是合法的 JSON")


# --- 跨站与内容类型 ---


def test_cross_site_text_plain_post_is_refused(client: Any) -> None:
    """浏览器可以不经预检跨站发送 text/plain 的 POST：必须拒绝。"""
    response = client.post(
        "/scheduler/jobs",
        data='{"id": "x", "func": "os:system", "args": ["id"]}',
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
    )
    assert_json_error(response, 403, "拒绝跨站发往 scheduler API 的修改请求")
    assert len(scheduler.get_jobs()) == 2


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_mutating_requests_must_be_json(client: Any, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/scheduler/jobs/redraw-cpu/pause", data="", headers=headers)
    assert_json_error(response, 415, "application/json")
    assert scheduler.get_job("redraw-cpu").next_run_time is not None


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Origin": "http://localhost"}, True),
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Origin": "http://localhost:8080"}, False),
        ({"Origin": "https://localhost"}, False),
        ({"Origin": "null"}, False),
        ({"Sec-Fetch-Site": "cross-site"}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),
    ],
)
def test_same_origin_only(client: Any, headers: dict[str, str], allowed: bool) -> None:
    response = client.post("/scheduler/jobs/redraw-cpu/pause", json={}, headers=headers)
    assert response.status_code == (200 if allowed else 403)


def test_reads_are_not_subject_to_origin_checks(client: Any) -> None:
    assert client.get("/scheduler/jobs", headers={"Origin": "http://elsewhere.example"}).status_code == 200


# --- 认证 ---


def test_without_credentials_only_loopback_in_development(client: Any) -> None:
    assert client.get("/scheduler/jobs").status_code == 200
    response = client.get("/scheduler/jobs", environ_base=REMOTE)
    assert_json_error(response, 403, "LIVECHART_API_USER")
    response = client.post("/scheduler/jobs/redraw-cpu/pause", json={}, environ_base=REMOTE)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("host", "headers", "allowed"),
    [
        ("localhost:5000", {}, True),
        ("127.0.0.1:5000", {}, True),
        ("[::1]:5000", {}, True),
        # DNS 重绑定：恶意域名解析到 127.0.0.1，浏览器认为请求是同源的
        ("evil.example:5000", {"Origin": "http://evil.example:5000"}, False),
        ("evil.example", {}, False),
        # 同机的反向代理：对端是回环，但真正的客户端不是
        ("localhost:5000", {"X-Forwarded-For": "203.0.113.9"}, False),
        ("localhost:5000", {"Forwarded": "for=203.0.113.9"}, False),
    ],
)
def test_loopback_exemption_needs_a_loopback_host_and_no_proxy(
    client: Any, host: str, headers: dict[str, str], allowed: bool
) -> None:
    response = client.post(
        "/scheduler/jobs/redraw-cpu/pause", json={}, headers={"Host": host, **headers}, base_url=f"http://{host}"
    )
    assert response.status_code == (200 if allowed else 403), response.get_data(as_text=True)


def test_oversized_body_is_413_json(client: Any) -> None:
    response = client.patch("/scheduler/jobs/redraw-cpu", data="x" * 100_000, headers=JSON)
    assert_json_error(response, 413, "请求体超过了大小上限")


def test_without_credentials_and_without_loopback_permission_everything_is_refused(make_app: Any) -> None:
    app = make_app("testing", LIVECHART_API_LOOPBACK_WITHOUT_AUTH=False)
    assert_json_error(app.test_client().get("/scheduler/jobs"), 403, "LIVECHART_API_USER")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        (basic("ops", "wrong"), 401),
        (basic("root", "s3cret"), 401),
        ({"Authorization": "Bearer s3cret"}, 401),
        ({"Authorization": "Basic !!!"}, 401),
        (basic("ops", "s3cret"), 200),
    ],
)
def test_basic_auth(secured: Any, headers: dict[str, str], status: int) -> None:
    client = secured.test_client()
    response = client.get("/scheduler/jobs", headers=headers, environ_base=REMOTE)
    assert response.status_code == status
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
        assert response.get_json()["error"] == "unauthorized"
    # 有凭据时，本机回环也要认证
    assert client.get("/scheduler/jobs", headers=headers).status_code == status


def test_auth_applies_to_every_scheduler_endpoint(secured: Any) -> None:
    client = secured.test_client()
    rules = [r for r in secured.url_map.iter_rules() if r.endpoint.startswith("scheduler.")]
    assert len(rules) == 13
    for rule in rules:
        path = rule.rule.replace("<job_id>", "redraw-cpu")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method, json={})
            assert response.status_code == 401, (method, path)
    assert scheduler.get_job("redraw-cpu") is not None


def test_authenticated_mutation(secured: Any) -> None:
    client = secured.test_client()
    response = client.post("/scheduler/jobs/redraw-cpu/pause", json={}, headers=basic("ops", "s3cret"))
    assert response.status_code == 200 and response.get_json()["next_run_time"] is None


@pytest.mark.usefixtures("secured")
def test_auth_does_not_leak_between_apps(make_app: Any) -> None:
    """模块级 scheduler 会沿用上一个 app 的 SCHEDULER_AUTH：必须每次显式设置。"""
    shutdown_scheduler()
    open_app = make_app("testing")
    assert open_app.test_client().get("/scheduler/jobs").status_code == 200


# --- 从不回显堆栈或异常文本 ---


def test_internal_errors_are_scrubbed(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("db password is hunter2")

    monkeypatch.setattr(scheduler, "pause_job", boom)
    response = client.post("/scheduler/jobs/redraw-cpu/pause", json={})
    assert_json_error(response, 500, "服务器内部错误，详情见服务器日志")
    assert "hunter2" not in response.get_data(as_text=True)


def test_unserialisable_job_args_do_not_leak(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """GET /scheduler/jobs 在任务参数无法序列化时会抛异常（docs/pitfalls.md 第 6 条）：返回通用 500 JSON。"""
    job = scheduler.get_job("redraw-cpu")
    monkeypatch.setattr(job, "kwargs", {"chart": object()})
    monkeypatch.setattr(scheduler, "get_jobs", lambda *_args, **_kwargs: [job])
    response = client.get("/scheduler/jobs")
    assert_json_error(response, 500, "服务器内部错误，详情见服务器日志")
    assert "object" not in response.get_data(as_text=True)


# --- FLASK_DEBUG 不能让调度器静默停摆 ---


def test_flask_debug_still_starts_the_scheduler(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    make_app("testing", LIVECHART_SCHEDULER="running", LIVECHART_WARM_CACHE=False)
    assert scheduler.running


@pytest.mark.parametrize("env", [{"WERKZEUG_RUN_MAIN": "true"}, {"FLASK_DEBUG": "1", "FLASK_RUN_FROM_CLI": "true"}])
def test_reloader_is_refused_with_a_reason(make_app: Any, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match="python -m livechart"):
        make_app("testing", LIVECHART_SCHEDULER="running", LIVECHART_WARM_CACHE=False)
    assert not scheduler.running


def test_scheduler_off_starts_nothing(make_app: Any) -> None:
    app = make_app("testing", LIVECHART_SCHEDULER="off")
    assert not scheduler.running
    assert app.test_client().get("/plot.png").status_code == 200
    assert jobs.redrawers(app)["cpu"].renders == 1


# --- 任何 /scheduler 调用序列之后：要么每个有任务的图表都在重绘，要么状态与 /healthz 说明原因 ---


def _reasons(server: Server) -> dict[str, str | None]:
    return {c["name"]: c["reason"] and c["reason"]["code"] for c in server.get("/api/charts").json()["charts"]}


def _advances(server: Server, chart: str) -> None:
    start = server.version(chart)
    wait_for(lambda: server.version(chart) > start, 10, f"{chart} redraws on its own")


def _healthy(server: Server) -> dict[str, Any]:
    """等到 /healthz 为 200（机器很忙时 1 秒的图表可能一时过期）并返回它的内容。"""
    return wait_for(lambda: (r := server.get("/healthz")).status_code == 200 and r.json(), 20, "/healthz is 200")


def _unhealthy_because(server: Server, fragment: str) -> dict[str, Any]:
    response = server.get("/healthz")
    body = response.json()
    assert response.status_code == 503 and any(fragment in reason for reason in body["reasons"]), body
    return body


def test_any_sequence_of_scheduler_calls_redraws_or_says_why(server: Server) -> None:
    """真实的服务进程（间隔 1 秒）。以前：shutdown → start 报告运行中、没有任务，/healthz 为 ok，
    之后补回的任务每个节拍都记录 "cannot schedule new futures after shutdown" 和堆栈。"""
    assert server.post("/scheduler/shutdown", json={"wait": False}).status_code == 409
    assert server.post("/scheduler/start").status_code == 409
    _healthy(server)
    _advances(server, "demo")

    assert server.post("/scheduler/pause").status_code == 204
    assert _reasons(server) == {"cpu": "scheduler_paused", "demo": "scheduler_paused"}
    _unhealthy_because(server, "调度器已暂停")
    assert server.post("/scheduler/resume").status_code == 204
    _advances(server, "cpu")

    assert requests.delete(server.url + "/scheduler/jobs/redraw-demo", json={}, timeout=10).status_code == 204
    assert _reasons(server) == {"cpu": None, "demo": "no_job"}
    assert _unhealthy_because(server, "'redraw-demo' 被删掉了")["no_job"] == ["demo"]
    assert server.post("/scheduler/jobs", json={**NEW_JOB, "seconds": 1}).status_code == 200
    _advances(server, "demo")
    assert _reasons(server) == {"cpu": None, "demo": None}

    assert server.post("/scheduler/jobs/redraw-cpu/pause").status_code == 200
    patched = server.patch("/scheduler/jobs/redraw-cpu", json={"seconds": 2})
    assert patched.status_code == 200 and patched.json()["next_run_time"] is None  # 仍然暂停
    assert _reasons(server) == {"cpu": "job_paused", "demo": None}
    assert _healthy(server)["paused"] == ["cpu"]  # 用户暂停的任务是有意的
    assert server.post("/scheduler/jobs/redraw-cpu/resume").status_code == 200
    _advances(server, "cpu")
    assert _healthy(server)["reasons"] == []
    log = server.log.read_text()
    assert "Traceback" not in log and "cannot schedule new futures" not in log


# --- 多进程模式（Redis）：修改先写进 Redis，再由同一个函数应用；Redis 不可用时什么都不改 ---

PRODUCTION = {"LIVECHART_API_USER": "ops", "LIVECHART_API_PASSWORD": "s3cret", "LIVECHART_SCHEDULER": "running"}
AUTH = basic("ops", "s3cret")


def test_with_redis_a_change_is_recorded_then_applied_once(redis_server: RedisServer, make_app: Any) -> None:
    app = make_app("production", CACHE_TYPE="RedisCache", CACHE_REDIS_URL=redis_server.url, **PRODUCTION)
    client = app.test_client()
    patched = client.patch("/scheduler/jobs/redraw-cpu", json={"seconds": 3}, headers=AUTH)
    # 响应就是应用之后的任务：起点已对齐到 EPOCH（以前先按 Flask-APScheduler 改一次，响应里是“现在”，再被对齐线程改一次）
    assert patched.status_code == 200 and patched.get_json()["start_date"] == EPOCH.isoformat()
    assert patched.get_json()["seconds"] == 3
    recorded = redis.Redis.from_url(redis_server.url).hgetall("livechart:" + keys.job("cpu"))
    assert json.loads(recorded[b"seconds"]) == 3

    client.post("/scheduler/jobs/redraw-cpu/pause", json={}, headers=AUTH)
    renamed = client.patch("/scheduler/jobs/redraw-cpu", json={"name": "cpu", "seconds": 4}, headers=AUTH).get_json()
    assert renamed["name"] == "cpu" and renamed["seconds"] == 4 and renamed["next_run_time"] is None
    desired = coordination.get(app).desired_one("cpu")
    assert {key: desired[key] for key in ("seconds", "paused", "name")} == {"seconds": 4.0, "paused": True, "name": "cpu"}
    # 记下了修改时配置文件的样子：文件之后再改这个任务时以文件为准
    assert desired["base"] == {"seconds": 2.0} and desired["changed_at"] > 0

    redis_server.stop()
    for method, path, body in (("patch", "/scheduler/jobs/redraw-cpu", {"seconds": 9}), ("delete", "/scheduler/jobs/redraw-demo", {}),
                               ("post", "/scheduler/jobs/redraw-cpu/resume", {})):  # fmt: skip
        response = getattr(client, method)(path, json=body, headers=AUTH)
        assert_json_error(response, 503, "Redis")
    # 什么都没改，Redis 恢复后对齐也不会改：本进程与 Redis 一致
    redis_server.start()

    def reconciled() -> bool:
        # 刚失败过的 Redis 在 store.PROBE_SECONDS 内不再试：等到对齐成功
        with app.app_context(), contextlib.suppress(store.Unavailable):
            alignment.reconcile(coordination.get(app))
            return True
        return False

    wait_for(reconciled, 5, "reconciled after Redis came back")
    assert scheduler.get_job("redraw-cpu").trigger.interval.total_seconds() == 4
    assert scheduler.get_job("redraw-cpu").next_run_time is None
    assert scheduler.get_job("redraw-demo") is not None


def test_the_web_role_says_why_a_chart_is_not_redrawing(redis_server: RedisServer, make_app: Any) -> None:
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_server.url, **PRODUCTION}
    worker = make_app("production", **settings).test_client()
    assert worker.delete("/scheduler/jobs/redraw-demo", json={}, headers=AUTH).status_code == 204
    assert worker.post("/scheduler/jobs/redraw-cpu/pause", json={}, headers=AUTH).status_code == 200
    shutdown_scheduler()
    web = make_app("production", **settings, LIVECHART_ROLE="web").test_client()
    charts = web.get("/api/charts").get_json()["charts"]
    assert [c["reason"]["code"] for c in charts] == ["job_paused", "no_job"]
    health = web.get("/healthz")
    assert health.status_code == 503 and health.get_json()["no_job"] == ["demo"] and health.get_json()["paused"] == ["cpu"]
    # 整个服务暂停（在任一 all 进程上）：web 进程也这么说
    redis.Redis.from_url(redis_server.url).hset("livechart:" + keys.service(), "paused", "true")
    redis.Redis.from_url(redis_server.url).hdel("livechart:" + keys.job("cpu"), "paused")
    assert web.get("/api/charts/cpu").get_json()["reason"]["code"] == "scheduler_paused"
