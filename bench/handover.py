"""kill -9 图表所有者之后多久有别的进程接手（python -m bench.handover）：10 次的中位数与最大值，秒与间隔数。

与 make run-prod 相同的命令（gunicorn -c python:livechart.gunicorn_config livechart.wsgi:app），3 个工作进程，
真实的 redis-server，配置 tests.e2e_config:ProductionE2EConfig（每个图表每秒重绘一次）。每一次：读 /api/charts/demo
的 rendered_by（“主机:pid”），kill -9 这个 pid，每 ~20 ms 用新连接读一次 /api/charts/demo，直到 rendered_by 是
另一个 pid 且版本号前进了；记下从 kill 到这一刻的秒数（观察到的，含轮询间隔），以及从 kill 到那张新图的
rendered_at（服务器记下的时刻，不含轮询）。跳过的节拍数：旧所有者的最后一张图与新所有者的第一张图之间的间隔数减一。
之后等 gunicorn 主进程补回工作进程（又是 3 个）、再等几秒让所有权稳定，才开始下一次。

设计上的预期（livechart/leases.py 的 lease_ms）：租约比两个间隔少四分之一个间隔，所有者死后
最迟在第二个节拍由别的进程接手——不超过 2 个间隔，最多跳过 1～2 个节拍。
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import redis
import requests

from bench import common
from bench.serve import AUTH
from livechart import keys

ROOT = common.RESULTS.parent.parent
CHART = "demo"
WORKERS = 3
# 配置文件里的 CACHE_KEY_PREFIX（直接用 Redis 客户端读租约时加上它）
PREFIX = "livechart:"


# 最近一次没有得到状态的原因（超时的时候打印）
problems: list[str] = []


def status(base: str) -> dict[str, Any] | None:
    """新连接上读一次 /api/charts/demo；连不上或不是 200 时为 None（原因记进 problems）。"""
    try:
        response = requests.get(f"{base}/api/charts/{CHART}", headers={"Connection": "close"}, timeout=2)
    except requests.RequestException as exc:
        problems.append(f"{time.strftime('%H:%M:%S')} {type(exc).__name__}: {exc}")
        return None
    if response.status_code != 200:
        problems.append(f"{time.strftime('%H:%M:%S')} {response.status_code}: {response.text[:300]}")
        return None
    return response.json()


def pid_of(owner: str | None) -> int | None:
    """rendered_by（“主机:pid”）中的 pid。"""
    return int(owner.rsplit(":", 1)[1]) if owner else None


def epoch(iso: str) -> float:
    """rendered_at（ISO 8601，UTC）→ epoch 秒。"""
    return datetime.fromisoformat(iso).timestamp()


def workers(master: subprocess.Popen) -> list[int]:
    """gunicorn 主进程现在的工作进程。"""
    return [child.pid for child in psutil.Process(master.pid).children()]


def settle(base: str, master: subprocess.Popen, seconds: float) -> dict[str, Any]:
    """等到又有 3 个工作进程、再等 seconds 秒，然后等到渲染者是活着的工作进程且又画了两张新图；返回最新状态。"""
    common.wait_until(lambda: len(workers(master)) == WORKERS, 30, f"{WORKERS} gunicorn workers")
    time.sleep(seconds)
    first = common.wait_until(lambda: status(base), 10, "/api/charts/demo")

    def rendering() -> dict[str, Any] | None:
        now = status(base)
        if now and now["version"] >= first["version"] + 2 and pid_of(now["rendered_by"]) in workers(master):
            return now
        return None

    return common.wait_until(rendering, 15, "the demo chart rendered by a live worker")


def moment(base: str, phase: str, rng: random.Random) -> dict[str, Any]:
    """等到要 kill 的时刻，返回那时的状态。after-render：刚看到一张新图（每 20 ms 轮询）——所有者在这个节拍开始时续约过，
    接近最坏的情况（最坏是渲染中被 kill，这个节拍的图也丢了）；random：上一张图之后的随机时刻（0～1 个间隔）。"""
    seen = status(base)
    assert seen is not None
    if phase == "random":
        time.sleep(rng.uniform(0, float(seen["interval"])))
        now = status(base)
        assert now is not None
        return now

    def new_image() -> dict[str, Any] | None:
        now = status(base)
        return now if now is not None and now["version"] > seen["version"] else None

    return common.wait_until(new_image, 10, "a new image within 10 s", step=0.02)


def trial(
    base: str, master: subprocess.Popen, lease: Callable[[], str | None], before: dict[str, Any], limit: float
) -> dict[str, Any]:
    """kill -9 现在的所有者，轮询直到别的进程画出新图；同时轮询 Redis 里的租约，记下别的进程接手的时刻。"""
    owner, version = before["rendered_by"], before["version"]
    interval = float(before["interval"])
    victim = pid_of(owner)
    if victim not in workers(master):
        raise RuntimeError(f"{owner} is none of gunicorn's workers {workers(master)}")
    last_old_at = epoch(before["rendered_at"])
    os.kill(victim, signal.SIGKILL)
    killed, killed_wall = time.monotonic(), time.time()
    polls = 0
    leased: float | None = None
    while time.monotonic() - killed < limit:
        holder = lease()
        if leased is None and holder is not None and pid_of(holder.rsplit(":", 1)[0]) != victim:
            leased = time.monotonic() - killed
        now = status(base)
        polls += 1
        if now is not None and now["rendered_by"]:
            if pid_of(now["rendered_by"]) == victim:
                last_old_at = max(last_old_at, epoch(now["rendered_at"]))  # 死前还画了一张
            elif now["version"] > version:
                observed = time.monotonic() - killed
                new_at = epoch(now["rendered_at"])
                return {
                    "killed": owner,
                    "successor": now["rendered_by"],
                    "interval": interval,
                    "killed_after_last_render": killed_wall - last_old_at,
                    "seconds": observed,
                    "intervals": observed / interval,
                    # 别的进程拿到租约（轮询 Redis 看到）、新图画完（服务器记下的 rendered_at），都从 kill 算起
                    "to_lease": leased,
                    "to_rendered_at": new_at - killed_wall,
                    "skipped_ticks": max(0, round((new_at - last_old_at) / interval) - 1),
                    "polls": polls,
                }
        time.sleep(0.02)
    return {"killed": owner, "successor": None, "interval": interval, "seconds": None, "polls": polls,
            "killed_after_last_render": killed_wall - last_old_at}  # fmt: skip


def summarise(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """一种 kill 时刻的全部试验：秒与间隔数的中位数、最大值，跳过的节拍数。"""
    done = [t for t in trials if t["seconds"] is not None]
    if not done:
        return {"trials": trials, "handed_over": 0}
    return {
        "trials": trials,
        "handed_over": len(done),
        "seconds": common.spread([t["seconds"] for t in done]),
        "intervals": common.spread([t["intervals"] for t in done]),
        "to_rendered_at": common.spread([t["to_rendered_at"] for t in done]),
        "to_lease": common.spread([t["to_lease"] for t in done if t["to_lease"] is not None]),
        "skipped_ticks_max": max(t["skipped_ticks"] for t in done),
    }


PHASES = {"random": "at a random moment of the interval", "after-render": "right after the owner's render"}


def report(phase: str, number: int, result: dict[str, Any]) -> None:
    """一次试验的一行。"""
    head = f"  {phase:12} trial {number:2}: killed {result['killed']} {result['killed_after_last_render']:.3f} s after its render"
    if result["seconds"] is None:
        print(f"{head}; nobody took over within 10 s")
        return
    print(f"{head} -> {result['successor']} seen after {result['seconds']:.3f} s ({result['intervals']:.2f} intervals); "
          f"lease taken {result['to_lease']:.3f} s, new image finished {result['to_rendered_at']:.3f} s after the kill; "
          f"{result['skipped_ticks']} tick(s) skipped")  # fmt: skip


def main() -> None:
    """运行并打印，写入 bench/results.json 的 handover 节。"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10, help="每种 kill 时刻的次数（默认 10）")
    parser.add_argument("--phases", nargs="+", choices=list(PHASES), default=list(PHASES), help="kill 的时刻（默认两种都测）")
    parser.add_argument("--settle", type=float, default=4.0, help="补回工作进程后再等的秒数（默认 4）")
    parser.add_argument("--port", type=int, default=0, help="gunicorn 的端口（默认空闲端口）")
    parser.add_argument("--redis-port", type=int, default=0, help="redis-server 的端口（默认空闲端口）")
    parser.add_argument("--log", type=Path, help="gunicorn 的日志写到这里（默认临时目录，结束后删除）")
    args = parser.parse_args()
    rng = random.Random(11)
    trials: dict[str, list[dict[str, Any]]] = {phase: [] for phase in args.phases}
    with tempfile.TemporaryDirectory(prefix="livechart-handover-") as tmp:
        workdir = Path(tmp)
        home = workdir / "home"
        home.mkdir()
        log = args.log or workdir / "gunicorn.log"
        redis_process, redis_url = common.start_redis(workdir, args.redis_port)
        port = args.port or common.free_port()
        base = f"http://127.0.0.1:{port}"
        # 与 tests/test_production.py 的 start_gunicorn 相同的环境，只是 3 个工作进程
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "PYTHONPATH": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "LIVECHART_CONFIG": "tests.e2e_config:ProductionE2EConfig",
            "LIVECHART_REDIS_URL": redis_url,
            "LIVECHART_API_USER": AUTH[0],
            "LIVECHART_API_PASSWORD": AUTH[1],
            "LIVECHART_PORT": str(port),
            "WEB_CONCURRENCY": str(WORKERS),
        }
        command = [sys.executable, "-m", "gunicorn", "-c", "python:livechart.gunicorn_config", "livechart.wsgi:app"]
        with open(log, "wb") as out:
            master = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            ready = lambda: requests.get(f"{base}/readyz", timeout=2).status_code == 200  # noqa: E731
            common.wait_until(lambda: master.poll() is None and ready(), 60, "gunicorn /readyz")
            client = redis.Redis.from_url(redis_url, decode_responses=True)
            lease_key = keys.raw(PREFIX, keys.lease(CHART))
            # 两种 kill 时刻交替进行
            for number in range(1, args.trials + 1):
                for phase in args.phases:
                    settle(base, master, args.settle)
                    result = trial(base, master, lambda: client.get(lease_key), moment(base, phase, rng), limit=10.0)
                    trials[phase].append(result)
                    report(phase, number, result)
        except (RuntimeError, AssertionError):
            print(log.read_text()[-4000:])
            print("\n".join(problems[-10:]))
            raise
        finally:
            master.terminate()
            try:
                master.wait(15)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait(5)
            redis_process.terminate()
            redis_process.wait(10)
        if any(t["seconds"] is None for phase in trials.values() for t in phase):
            print(log.read_text()[-4000:])
    result = {phase: summarise(values) for phase, values in trials.items()}
    common.save_results("handover", result)
    print(f"handover: kill -9 of the demo chart's owner under make run-prod ({WORKERS} workers, 1 s interval) until a client")
    print("  polling /api/charts/demo every 20 ms (new connection each time) sees another pid's new image")
    print("  (seen: by that client; lease: another process holds the lease in Redis, polled alongside; int. = intervals)")
    print(f"  {'kill':46}{'handed over':>13}{'seen p50 s':>11}{'max s':>7}{'p50 int.':>9}{'max int.':>9}{'lease max int.':>15}"
          f"{'skipped max':>12}")  # fmt: skip
    for phase, r in result.items():
        count = f"{r['handed_over']}/{len(r['trials'])}"
        if not r["handed_over"]:
            print(f"  {PHASES[phase]:46}{count:>13}")
            continue
        s, i = r["seconds"], r["intervals"]
        lease = max(t["to_lease"] / t["interval"] for t in r["trials"] if t.get("to_lease") is not None)
        print(f"  {PHASES[phase]:46}{count:>13}{s['median']:>11.3f}{s['max']:>7.3f}{i['median']:>9.2f}{i['max']:>9.2f}"
              f"{lease:>15.2f}{r['skipped_ticks_max']:>12}")  # fmt: skip
    print(f"machine: {common.machine()}")


if __name__ == "__main__":
    main()
