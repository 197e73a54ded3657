"""端到端：启动真实的 python -m livechart 进程，只通过 HTTP 观察它。"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.conftest import Server
from tests.conftest import require_program
from tests.conftest import start_server
from tests.conftest import wait_for

pytestmark = pytest.mark.e2e

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".svg", ".svgz", ".pdf", ".eps", ".ps")
# strace 记录的写打开：open/openat 带 O_WRONLY、O_RDWR 或 O_CREAT，creat，以及 rename 的目标
WRITE_OPEN = re.compile(r'\bopen(?:at)?\((?:[^,"]+, )?"(?P<path>[^"]+)", (?P<flags>[A-Z_|]+)')
CREAT = re.compile(r'\bcreat\("(?P<path>[^"]+)"')
RENAME = re.compile(r'\brename(?:at2?)?\((?:[^,"]+, )?"[^"]+", (?:[^,"]+, )?"(?P<path>[^"]+)"')


def written_paths(strace_log: Path) -> set[str]:
    """从 strace 日志中取出进程以写方式打开、创建或改名得到的所有路径。"""
    paths = set()
    for line in strace_log.read_text(errors="replace").splitlines():
        match = WRITE_OPEN.search(line)
        if match and re.search(r"O_WRONLY|O_RDWR|O_CREAT", match["flags"]):
            paths.add(match["path"])
        for pattern in (CREAT, RENAME):
            if found := pattern.search(line):
                paths.add(found["path"])
    return {p for p in paths if not p.startswith(("/dev/", "/proc/", "/sys/"))}


def is_image(path: Path) -> bool:
    """按扩展名或 PNG 文件头判断是否是图片文件。"""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(8) == PNG_MAGIC
    except OSError:
        return False


def versions_over(server: Server, seconds: float) -> dict[str, list[int]]:
    """在一段时间内反复读取状态（不请求图片），记录每个图表的版本号。"""
    seen: dict[str, list[int]] = {"cpu": [], "demo": []}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for chart in server.get("/api/charts").json()["charts"]:
            seen[chart["name"]].append(chart["version"])
        time.sleep(0.1)
    return seen


def test_server_redraws_pauses_resumes_and_writes_no_image(tmp_path: Path) -> None:
    server = start_server(tmp_path, strace=True)
    try:
        port = server.url.rsplit(":", 1)[1]
        assert f"http://127.0.0.1:{port}/" in server.log.read_text()

        # (a) 没有任何图片请求，图片也在变化：版本号由后台任务推进
        first = server.get("/charts/demo.png")
        assert first.status_code == 200 and first.content.startswith(PNG_MAGIC)
        v1 = int(first.headers["X-Livechart-Version"])
        wait_for(lambda: server.version("demo") >= v1 + 2, 15, "demo chart did not redraw by itself")
        second = server.get("/charts/demo.png")
        assert int(second.headers["X-Livechart-Version"]) >= v1 + 2
        assert second.headers["ETag"] != first.headers["ETag"]
        assert second.content != first.content

        # (b) 通过 REST 暂停：图表停止变化，而未暂停的图表继续推进（证明时间确实在走）
        paused = server.post("/scheduler/jobs/redraw-demo/pause")
        assert paused.status_code == 200 and paused.json()["next_run_time"] is None
        frozen = server.version("demo")
        seen = versions_over(server, 3.5)  # 3 个以上的间隔
        assert set(seen["demo"]) == {frozen}
        assert seen["cpu"][-1] >= seen["cpu"][0] + 2
        assert server.get("/api/charts/demo").json()["paused"] is True
        etag = server.get("/charts/demo.png").headers["ETag"]
        assert server.get("/charts/demo.png", headers={"If-None-Match": etag}).status_code == 304

        # (c) 恢复：再次变化
        resumed = server.post("/scheduler/jobs/redraw-demo/resume")
        assert resumed.status_code == 200 and resumed.json()["next_run_time"] is not None
        wait_for(lambda: server.version("demo") > frozen, 10, "demo chart did not resume")

        # 修改间隔在运行时生效
        patched = server.patch("/scheduler/jobs/redraw-demo", json={"trigger": "interval", "seconds": 3})
        assert patched.status_code == 200 and patched.json()["seconds"] == 3
        assert server.get("/api/charts/demo").json()["interval"] == 3
    finally:
        assert server.stop() == 0, server.log.read_text()

    # (d) 进程从未写过图片文件：strace 记录的每一个写路径，以及临时 HOME 和工作目录
    assert server.strace_log is not None
    written = written_paths(server.strace_log)
    # 解析不是空转的：Matplotlib 在临时 HOME 里写了字体缓存（JSON，不是图片）
    assert any(p.startswith(str(server.home)) for p in written), sorted(written)[:20]
    images = sorted(p for p in written if Path(p).suffix.lower() in IMAGE_SUFFIXES or (Path(p).is_file() and is_image(Path(p))))
    assert images == []
    for folder in (server.home, server.workdir):
        found = [p for p in folder.rglob("*") if p.is_file() and is_image(p)]
        assert found == []


def test_flask_debug_does_not_stop_the_scheduler(tmp_path: Path) -> None:
    """FLASK_DEBUG=1：Flask-APScheduler 会静默跳过 start()；livechart 仍然重绘，并说明原因。"""
    server = start_server(tmp_path, env={"FLASK_DEBUG": "1"})
    try:
        start = server.version("demo")
        wait_for(lambda: server.version("demo") >= start + 2, 15, "scheduler did not run under FLASK_DEBUG")
        assert "FLASK_DEBUG" in server.log.read_text()
        # 调试器保持关闭：错误仍是 JSON，而不是带控制台的堆栈页面
        missing = server.get("/no/such/page")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    finally:
        assert server.stop() == 0


def test_bad_config_exits_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "livechart"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "LIVECHART_CONFIG": "prod"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "LIVECHART_CONFIG='prod' 不认识" in result.stderr
    assert "Traceback" not in result.stderr


def test_written_file_detection_catches_an_image(tmp_path: Path) -> None:
    """对照组：同样的 strace 检查能发现一个真的写了 PNG 的进程（检查不是空转的）。"""
    strace = require_program("strace", "watching a process for written files")
    log = tmp_path / "strace.log"
    target = tmp_path / "chart.png"
    script = f"open({str(target)!r}, 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n')"
    subprocess.run([strace, "-f", "-qq", "-e", "trace=open,openat,creat,rename,renameat,renameat2", "-o", str(log),
                    sys.executable, "-c", script], check=True, timeout=60)  # fmt: skip
    assert str(target) in written_paths(log)
    assert is_image(target)


def test_sigterm_exits_within_five_seconds_with_status_0(tmp_path: Path) -> None:
    import signal

    server = start_server(tmp_path)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(10) == 0
    assert time.monotonic() - started < 5
