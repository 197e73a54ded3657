"""示例数据的写入方：每秒向 CSV 文件追加一行，或向 SQLite 表插入一行。

python -m examples.writer csv /tmp/livechart-example.csv
python -m examples.writer sqlite /tmp/livechart-example.db
"""

from __future__ import annotations

import argparse
import math
import random
import sqlite3
import time
from datetime import datetime
from pathlib import Path


def write_csv(path: Path, step: int, at: datetime | None = None) -> None:
    """追加一行温度与湿度（文件不存在时先写表头）；at 默认为现在。"""
    new = not path.exists()
    with open(path, "a") as handle:
        if new:
            handle.write("time,temperature,humidity\n")
        temperature = 22 + 3 * math.sin(step / 60) + random.gauss(0, 0.2)
        humidity = 45 + 10 * math.cos(step / 90) + random.gauss(0, 1)
        handle.write(f"{(at or datetime.now()).isoformat(timespec='seconds')},{temperature:.2f},{humidity:.1f}\n")


def write_sqlite(path: Path, step: int, at: datetime | None = None) -> None:
    """插入一行订单数与金额（表不存在时先建表）；at 默认为现在。"""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS orders (at TIMESTAMP, orders INTEGER, amount REAL)")
        orders = max(0, int(20 + 10 * math.sin(step / 30) + random.gauss(0, 3)))
        connection.execute(
            "INSERT INTO orders VALUES (?, ?, ?)",
            ((at or datetime.now()).isoformat(sep=" ", timespec="seconds"), orders, orders * 37.5),
        )


def main() -> None:
    """按间隔写入，直到 Ctrl+C 或写满 --count 行。"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["csv", "sqlite"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--interval", type=float, default=1.0, help="秒（默认 1）")
    parser.add_argument("--count", type=int, default=0, help="写这么多行后退出（默认 0：一直写）")
    args = parser.parse_args()
    write = write_csv if args.kind == "csv" else write_sqlite
    step = 0
    try:
        while not args.count or step < args.count:
            write(args.path, step)
            step += 1
            if not args.count or step < args.count:
                time.sleep(args.interval)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
