"""每个节拍写进 Redis 的字节数（python -m bench.redis_writes）：300 行与 10 000 行的窗口，issue 11 之前与之后。

之前：旧的 store.save_history 每个节拍把整个窗口（pickle 的 DataFrame）经 Flask-Caching 写一次：
cache.set("chart:<名>:history", 窗口, timeout=0)。之后：history.RedisHistory.append 只把新的一行交给 Lua 脚本。
两条路径用同一个真实的 app（create_app，RedisCache，调度器暂停、不预热；之后停掉协调线程，Redis 上再没有别的流量），
每个节拍在 N 行的窗口上加一行（两列 float，与 demo 数据源相同），两条路径交替进行。

字节数来自 Redis 自己的计数器：每个节拍前后 INFO stats 的 total_net_input_bytes 之差，减去 INFO 命令本身
（先空测几次得到）；同时检查 total_commands_processed 的差，有别的客户端插进来时丢弃那个样本。
Redis 的 CPU：INFO commandstats（set 与 evalsha 每次调用的微秒；set 不含读入与解析请求的时间），
以及每条路径单独连续写若干个节拍前后 INFO cpu 的主线程 CPU 之差（含读入与解析）。
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import redis

from bench import common

CHART = "bench"
COLUMNS = ("signal", "walk")


def stats(client: redis.Redis) -> tuple[int, int]:
    """(Redis 收到的总字节数, 处理过的命令总数)。"""
    info = client.info("stats")
    return info["total_net_input_bytes"], info["total_commands_processed"]


def bracket(client: redis.Redis, operation: Callable[[], Any]) -> tuple[int, int]:
    """operation 前后各读一次计数器：返回 (字节差, 命令数差)，都含第二次 INFO 本身。"""
    bytes_before, commands_before = stats(client)
    operation()
    bytes_after, commands_after = stats(client)
    return bytes_after - bytes_before, commands_after - commands_before


def main_thread_cpu(client: redis.Redis) -> float:
    """Redis 主线程用过的 CPU 秒数（用户态 + 内核态）。"""
    info = client.info("cpu")
    return info["used_cpu_user_main_thread"] + info["used_cpu_sys_main_thread"]


def command_stats(client: redis.Redis) -> dict[str, dict[str, float]]:
    """INFO commandstats：命令名 → {calls, usec}。"""
    return {name.removeprefix("cmdstat_"): value for name, value in client.info("commandstats").items()}


def delta_per_call(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], command: str) -> float:
    """两次 commandstats 之间一个命令每次调用的微秒。"""
    old = before.get(command, {"calls": 0, "usec": 0})
    new = after[command]
    return (new["usec"] - old["usec"]) / (new["calls"] - old["calls"])


def rows_for(points: int, ticks: int) -> pd.DataFrame:
    """demo 数据源的 points + ticks 行（每秒一行，到现在为止）：前 points 行是窗口，之后每个节拍一行。"""
    from livechart.sources.demo import DemoSource

    return DemoSource(seed=42).backfill(points + ticks, 1.0)


def measure(app: Any, client: redis.Redis, points: int, ticks: int, info_cost: tuple[int, int]) -> dict[str, Any]:
    """在 points 行的窗口上交替写 ticks 个节拍（之前、之后两条路径），返回每个节拍的字节数与 CPU。"""
    from livechart import history
    from livechart import keys
    from livechart.extensions import cache
    from livechart.window import append_window

    store = history.get(app)
    assert isinstance(store, history.RedisHistory), "bench.redis_writes needs the Redis window store"
    legacy_key = keys.legacy_history(CHART)
    window_keys = (keys.window(CHART), keys.window_meta(CHART))
    # 两遍：第一遍交替测字节数，第二遍每条路径单独连续写、测 CPU；再多两行给每条路径的预热节拍
    rows = rows_for(points, 3 * ticks + 2)
    window = rows.iloc[:points]
    new_rows = [rows.iloc[i : i + 1] for i in range(points, len(rows))]
    state = {"window": window}

    def before(row: pd.DataFrame) -> None:
        # 旧的 store.save_history：整个窗口（已按点数裁剪）pickle 后 SET，永不过期
        state["window"] = append_window(state["window"], row, points, None)
        cache.set(legacy_key, state["window"], timeout=0)

    def after(row: pd.DataFrame) -> None:
        store.append(CHART, row, points, None)

    with app.app_context():
        store.forget(CHART)
        cache.delete(legacy_key)
        cache.set(legacy_key, window, timeout=0)
        store.append(CHART, window, points, None)  # 整个窗口一次写入（升级导入时的样子），也载入脚本
        before(new_rows.pop(0))  # 预热
        after(new_rows.pop(0))
        samples: dict[str, list[tuple[int, int]]] = {"before": [], "after": []}
        commands_before = command_stats(client)
        for _ in range(ticks):
            row = new_rows.pop(0)
            samples["before"].append(bracket(client, lambda row=row: before(row)))
            samples["after"].append(bracket(client, lambda row=row: after(row)))
        commands_after = command_stats(client)
        cpu: dict[str, float] = {}
        for name, operation in (("before", before), ("after", after)):
            started = main_thread_cpu(client)
            for _ in range(ticks):
                operation(new_rows.pop(0))
            cpu[name] = (main_thread_cpu(client) - started) / ticks
        sizes = {
            "before": client.memory_usage(keys.raw(store.prefix, legacy_key)),
            "after": sum(client.memory_usage(keys.raw(store.prefix, key)) for key in window_keys),
        }
        window_rows = len(history.load(CHART))
        store.forget(CHART)
        cache.delete(legacy_key)
    assert window_rows == points, f"window holds {window_rows} rows, expected {points}"
    result: dict[str, Any] = {"points": points, "ticks": ticks}
    for name, pairs in samples.items():
        usual = Counter(commands for _, commands in pairs).most_common(1)[0][0]
        clean = [size - info_cost[0] for size, commands in pairs if commands == usual]
        result[name] = {
            "bytes_per_tick": statistics.mean(clean),
            "bytes_min": min(clean),
            "bytes_max": max(clean),
            "samples": len(clean),
            "discarded": len(pairs) - len(clean),
            "commands_per_tick": usual - info_cost[1],
            "cpu_us_per_tick": round(cpu[name] * 1e6, 1),
            "key_memory_bytes": sizes[name],
        }
    result["before"]["usec_per_call"] = round(delta_per_call(commands_before, commands_after, "set"), 1)
    result["after"]["usec_per_call"] = round(delta_per_call(commands_before, commands_after, "evalsha"), 1)
    result["after_vs_before"] = result["after"]["bytes_per_tick"] / result["before"]["bytes_per_tick"]
    return result


def info_overhead(client: redis.Redis) -> tuple[int, int]:
    """一次 INFO stats 本身的 (字节, 命令数)：空的前后测量取最小。"""
    empties = [bracket(client, lambda: None) for _ in range(5)]
    return min(size for size, _ in empties), min(commands for _, commands in empties)


def main() -> None:
    """运行并打印，写入 bench/results.json 的 redis_writes 节。"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticks", type=int, default=20, help="每条路径、每种窗口的节拍数（默认 20）")
    parser.add_argument("--points", type=int, nargs="+", default=[300, 10_000], help="窗口行数（默认 300 10000）")
    parser.add_argument("--redis-port", type=int, default=0, help="redis-server 的端口（默认空闲端口）")
    args = parser.parse_args()
    from livechart import coordination
    from livechart import create_app
    from livechart.extensions import scheduler

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="livechart-redis-writes-") as tmp:
        redis_process, redis_url = common.start_redis(Path(tmp), args.redis_port)
        try:
            overrides = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url, "LIVECHART_SCHEDULER": "paused",
                         "LIVECHART_WARM_CACHE": False}  # fmt: skip
            app = create_app("development", overrides)
            # 协调线程（心跳、对齐、订阅）会在 Redis 上产生流量：停掉，只留下要测的写入
            coordination.stop(app)
            scheduler.shutdown(wait=True)
            client = redis.Redis.from_url(redis_url)
            info_cost = info_overhead(client)
            for points in args.points:
                results[str(points)] = measure(app, client, points, args.ticks, info_cost)
        finally:
            redis_process.terminate()
            redis_process.wait(10)
    common.save_results("redis_writes", results)
    print(f"redis writes: one new row per tick onto an N-row window (2 float columns), {args.ticks} ticks each, interleaved")
    print("  before = cache.set('chart:<name>:history', whole window, timeout=0) (old store.save_history)")
    print("  after  = history.RedisHistory.append(chart, one row, N, None) (Lua script, EVALSHA)")
    print(f"  {'rows':>7}{'before B/tick':>15}{'after B/tick':>14}{'after/before':>14}{'commands before':>17}{'after':>7}")
    for points, r in results.items():
        b, a = r["before"], r["after"]
        print(f"  {points:>7}{b['bytes_per_tick']:>15,.0f}{a['bytes_per_tick']:>14,.0f}{r['after_vs_before']:>14.4f}"
              f"{b['commands_per_tick']:>17}{a['commands_per_tick']:>7}")  # fmt: skip
        if b["discarded"] or a["discarded"]:
            print(f"  {points}: samples discarded (another client's commands in between): {b['discarded']} / {a['discarded']}")
    print("  Redis CPU (commandstats: set / evalsha µs per call, without reading the request; INFO cpu: main thread µs per tick,")
    print("  with it) and the window's size in Redis (MEMORY USAGE: the pickled value / the sorted set + its hash)")
    print(f"  {'rows':>7}{'set µs':>9}{'evalsha µs':>12}{'CPU µs/tick before':>20}{'after':>8}{'memory before':>15}{'after':>12}")
    for points, r in results.items():
        b, a = r["before"], r["after"]
        print(f"  {points:>7}{b['usec_per_call']:>9.1f}{a['usec_per_call']:>12.1f}{b['cpu_us_per_tick']:>20.0f}"
              f"{a['cpu_us_per_tick']:>8.0f}{b['key_memory_bytes']:>15,}{a['key_memory_bytes']:>12,}")  # fmt: skip
    print(f"machine: {common.machine()}")


if __name__ == "__main__":
    main()
