"""make bench 的总表（python -m bench.summary）：bench/results.json 中每个数字与它的目标。"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bench import common

# (名称, 取值, 目标说明, 是否达标)
Row = tuple[str, Callable[[dict[str, Any]], float], str, Callable[[float], bool]]


def handover_trials(results: dict[str, Any]) -> list[dict[str, Any]]:
    """bench.handover 的全部试验（两种 kill 时刻）。"""
    return [trial for phase in results["handover"].values() for trial in phase["trials"]]


def handover_max(results: dict[str, Any], field: str) -> float:
    """全部试验中 field（秒）的最大值，以间隔计；有一次没有接手时为无穷。"""
    trials = handover_trials(results)
    if any(trial.get(field) is None for trial in trials):
        return float("inf")
    return max(trial[field] / trial["interval"] for trial in trials)


ROWS: list[Row] = [
    ("render: default chart / naive pyplot", lambda r: r["render"]["ratio"], "<= 0.35x", lambda v: v <= 0.35),
    ("serve: /charts/<name>.png / bare Flask", lambda r: r["serve"]["livechart_vs_bare_flask"]["median"], ">= 0.95x",
     lambda v: v >= 0.95),
    ("serve: multiprocess metrics / per-worker metrics", lambda r: r["serve"]["livechart_vs_livechart_per_worker_metrics"]["median"],
     ">= 0.95x", lambda v: v >= 0.95),
    ("serve: /charts/<name>.png / nginx static", lambda r: r["serve"]["livechart_vs_nginx_static"]["median"], "report",
     lambda v: True),
    ("slow clients: answered within 3 s (make run-prod)", lambda r: r["slowclients"]["attack"]["after"]["fraction"],
     ">= 0.9", lambda v: v >= 0.9),
    ("slow clients: answered within 3 s (gthread)", lambda r: r["slowclients"]["attack"]["before"]["fraction"], "report",
     lambda v: True),
    ("slow clients: make run-prod / gthread, req/s", lambda r: r["slowclients"]["serve"]["livechart_vs_before"]["median"],
     ">= 1x", lambda v: v >= 1),
    ("viewers: CPU/request vs Dash, 100 viewers", lambda r: r["viewers"]["livechart_vs_dash"][-1]["cpu_per_request"],
     "<= 0.1x", lambda v: v <= 0.1),
    ("starvation: ticks skipped (default, make run-prod)", lambda r: r["freshness"]["default"]["skipped"], "0",
     lambda v: v == 0),
    ("starvation: new-image gap p99, s (default)", lambda r: r["freshness"]["default"]["gap_p99_s"], "<= 1.2",
     lambda v: v <= 1.2),
    ("starvation: ticks skipped (1 render process)", lambda r: r["freshness"]["render_processes_1"]["skipped"], "0",
     lambda v: v == 0),
    ("starvation: new-image gap p99, s (1 render process)", lambda r: r["freshness"]["render_processes_1"]["gap_p99_s"],
     "<= 1.2", lambda v: v <= 1.2),
    ("starvation: ticks skipped (drawing in-process)", lambda r: r["freshness"]["render_processes_0"]["skipped"], "report",
     lambda v: True),
    ("starvation: new-image gap p99, s (in-process)", lambda r: r["freshness"]["render_processes_0"]["gap_p99_s"], "report",
     lambda v: True),
    ("memory: RSS growth over 10 000 redraws, MB", lambda r: r["memory"]["rss_growth_mb"], "<= 2", lambda v: v <= 2),
    ("start-up: make run, first image, s", lambda r: r["startup"]["make run"]["median"], "<= 2", lambda v: v <= 2),
    ("start-up: make run-prod, first image, s", lambda r: r["startup"]["make run-prod (Redis)"]["median"], "<= 2",
     lambda v: v <= 2),
    ("start-up: make run-prod, 2 render processes, s", lambda r: r["startup"]["make run-prod, 2 render processes"]["median"],
     "<= 2", lambda v: v <= 2),
    ("pool: 20 charts, 2 processes / 1 process", lambda r: r["pool"]["two_vs_one_process"]["median"], ">= 1.7x",
     lambda v: v >= 1.7),
    ("redis bytes/tick, 300-row window: before/after", lambda r: 1 / r["redis_writes"]["300"]["after_vs_before"], "report",
     lambda v: True),
    ("redis bytes/tick, 10 000-row window: before/after", lambda r: 1 / r["redis_writes"]["10000"]["after_vs_before"],
     "report", lambda v: True),
    ("redis bytes/tick after: 10 000 rows / 300 rows", lambda r: r["redis_writes"]["10000"]["after"]["bytes_per_tick"]
     / r["redis_writes"]["300"]["after"]["bytes_per_tick"], "<= 1.1x", lambda v: v <= 1.1),
    ("hand-over after kill -9: seen, p50 intervals (random)", lambda r: r["handover"]["random"]["intervals"]["median"],
     "report", lambda v: True),
    ("hand-over after kill -9: seen, max intervals", lambda r: handover_max(r, "seconds"), "report", lambda v: True),
    ("hand-over after kill -9: lease taken, max intervals", lambda r: handover_max(r, "to_lease"), "<= 2",
     lambda v: v <= 2),
    ("hand-over: ticks skipped, max", lambda r: max(t.get("skipped_ticks", float("inf")) for t in handover_trials(r)), "<= 2",
     lambda v: v <= 2),
    ("reload: save → new interval, p50 s (make run)", lambda r: r["reload"]["latency"]["make run"]["p50"], "<= 2",
     lambda v: v <= 2),
    ("reload: save → new interval, max s (make run)", lambda r: r["reload"]["latency"]["make run"]["max"], "<= 2",
     lambda v: v <= 2),
    ("reload: save → all 3 workers applied, max s", lambda r: r["reload"]["latency"]["make run-prod, every one of 3 workers"]
     ["max"], "<= 2", lambda v: v <= 2),
    ("reload: watching the file, % of a core", lambda r: r["reload"]["watching"]["percent_of_a_core"], "< 0.1",
     lambda v: v < 0.1),
    ("draw: redraw via livechart / fresh Figure + savefig", lambda r: r["draw"]["redraw"]["livechart_vs_by_hand"],
     "<= 1.05x", lambda v: v <= 1.05),
    ("draw: keep=True / fresh Figure + savefig", lambda r: r["draw"]["redraw"]["keep_vs_by_hand"], "report",
     lambda v: True),
    ("draw: RSS growth over 10 000 histogram redraws, MB", lambda r: r["draw"]["memory"]["rss_growth_mb"], "<= 2",
     lambda v: v <= 2),
    ("draw: hung render, chart sharing its process waits, s", lambda r: r["draw"]["hung"]["neighbour_waited_s"]["max"],
     "report", lambda v: True),
    ("display: 1 s chart, latency p95 after, ms", lambda r: r["display"]["after"]["charts"]["fast"]["latency_ms"]["p95"],
     "<= 250", lambda v: v <= 250),
    ("display: 2 s chart, latency p95 after, ms", lambda r: r["display"]["after"]["charts"]["slow"]["latency_ms"]["p95"],
     "<= 250", lambda v: v <= 250),
    ("display: 1 s chart, latency p95 before, ms", lambda r: r["display"]["before"]["charts"]["fast"]["latency_ms"]["p95"],
     "report", lambda v: True),
    ("display: image bytes/viewer/min, after/before", lambda r: r["display"]["after"]["traffic"]["image_body_bytes_per_minute"]
     / r["display"]["before"]["traffic"]["image_body_bytes_per_minute"], "report", lambda v: True),
    ("display: a version downloaded twice (after)", lambda r: sum(c["repeat_downloads"] for c in
     r["display"]["after"]["traffic"]["charts"].values()), "0", lambda v: v == 0),
    ("200 viewers: server CPU after/before", lambda r: r["viewers200"]["after"]["server_cores"]
     / r["viewers200"]["before"]["server_cores"], "report", lambda v: True),
    ("200 viewers: image p99 after, ms", lambda r: r["viewers200"]["after"]["image_p99_ms"], "report", lambda v: True),
    ("soak: errors", lambda r: r["soak"]["errors"], "0", lambda v: v == 0),
    ("soak: largest RSS growth of a process, MB", lambda r: max(r["soak"]["rss_growth_mb"].values()), "report",
     lambda v: True),
]  # fmt: skip


def main() -> None:
    """打印总表。"""
    results = json.loads(common.RESULTS.read_text()) if common.RESULTS.exists() else {}
    print(f"summary ({common.RESULTS.name}):")
    print(f"  {'figure':54}{'value':>10}  {'target':10}")
    for name, value_of, target, met in ROWS:
        try:
            value = value_of(results)
        except (KeyError, IndexError, TypeError):
            print(f"  {name:54}{'—':>10}  {target:10} not measured in this results.json")
            continue
        mark = "" if target == "report" else ("ok" if met(value) else "MISSED")
        print(f"  {name:54}{value:>10.3f}  {target:10} {mark}")


if __name__ == "__main__":
    main()
