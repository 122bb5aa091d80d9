"""What the benchmark ran on, and where the CPU went during each cell."""
from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def java_version() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        return " / ".join(line.strip() for line in out.stderr.strip().splitlines())
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({error})"


def cpu_model() -> str:
    try:
        match = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        return match.group(1).strip() if match else platform.processor()
    except OSError:
        return platform.processor()


def mem_total_gib() -> float:
    try:
        match = re.search(r"MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text())
        return int(match.group(1)) / 1024 / 1024 if match else 0.0
    except OSError:
        return 0.0


def cassandra_pid() -> int | None:
    """The local node's pid; BENCH_CASSANDRA_PIDFILE names its file when the node was
    started from another checkout (a git worktree)."""
    path = os.environ.get("BENCH_CASSANDRA_PIDFILE") or REPO / ".cassandra/cassandra.pid"
    try:
        pid = int(Path(path).read_text().strip())
        return pid if Path(f"/proc/{pid}").exists() else None
    except (OSError, ValueError):
        return None


def cassandra_heap() -> str:
    pid = cassandra_pid()
    if not pid:
        return "?"
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return " ".join(a.decode() for a in args if a.startswith((b"-Xmx", b"-Xms"))) or "?"
    except OSError:
        return "?"


def describe(cassandra_version: str) -> dict:
    return {
        "cpu": f"{os.cpu_count()} cores ({cpu_model()})",
        "ram": f"{mem_total_gib():.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "java": java_version(),
        "cassandra": f"{cassandra_version} (local single node from tools/cassandra/node.py, "
                     f"heap {cassandra_heap()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


def process_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds a process has used so far (None if it is gone)."""
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def thread_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds per thread (tid) of a process."""
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            continue
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


@dataclass
class CpuSample:
    pids: dict[str, int | None]
    before: dict[str, float | None]
    machine_before: tuple[float, float]
    load_before: tuple[float, float, float]

    @classmethod
    def start(cls, **pids: int | None) -> "CpuSample":
        return cls(pids, {k: process_cpu_s(p) for k, p in pids.items()}, machine_cpu(),
                   os.getloadavg())

    def stop(self) -> dict:
        after = {k: process_cpu_s(p) for k, p in self.pids.items()}
        used = {k: (after[k] - self.before[k]) if after[k] is not None and self.before[k] is not None
                else None for k in self.pids}
        busy0, total0 = self.machine_before
        busy1, total1 = machine_cpu()
        wall_cpu = max(total1 - total0, 1e-9)
        ours = sum(v for v in used.values() if v)
        return {"cpu_s": used, "machine_busy_s": busy1 - busy0,
                "machine_busy_pct": 100.0 * (busy1 - busy0) / wall_cpu,
                "other_busy_s": max(0.0, (busy1 - busy0) - ours),
                "load_before": self.load_before, "load_after": os.getloadavg()}


def top_other_processes(exclude: set[int], limit: int = 4) -> list[str]:
    """The busiest processes that are not part of this benchmark (ps, %CPU over lifetime)."""
    try:
        out = subprocess.run(["ps", "-eo", "pid,pcpu,etimes,args", "--sort=-pcpu", "--no-headers"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) < 4 or int(parts[0]) in exclude or int(parts[0]) == os.getpid():
            continue
        if float(parts[1]) < 5.0:
            break
        found.append(f"{parts[3][:70]} ({parts[1]}% CPU)")
        if len(found) >= limit:
            break
    return found


def _node_tool():
    from tools.cassandra import node

    return node


def nodetool(*args: str, timeout: float = 1800) -> str | None:
    """Run nodetool on the local dev node; None (with a message) if that is not possible."""
    try:
        result = _node_tool().nodetool(*args, timeout=timeout)
    except Exception as error:  # noqa: BLE001 - remote cluster, no jars, timeout...
        print(f"[bench] nodetool {' '.join(args)} not possible: {error}", file=sys.stderr)
        return None
    if result.returncode != 0:
        print(f"[bench] nodetool {' '.join(args)} failed: {result.stderr.strip()[-400:]}",
              file=sys.stderr)
        return None
    return result.stdout


def sstable_count(keyspace: str, table: str = "videos") -> int | None:
    out = nodetool("tablestats", f"{keyspace}.{table}", timeout=120)
    match = re.search(r"SSTable count:\s*(\d+)", out or "")
    return int(match.group(1)) if match else None


def active_compactions() -> list[str]:
    out = nodetool("compactionstats", timeout=120) or ""
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[-1].endswith("%") and parts[0] != "id":
            found.append(f"{parts[-6]}.{parts[-5]} {parts[-1]}")
    return found


def wait_quiet(max_wait_s: float, quiet_load: float, log: Callable[[str], None]) -> dict:
    """Wait, at most `max_wait_s`, for a quiet machine: a 1-minute load below `quiet_load`
    and no compaction on the node. Says what it was like when the cell went ahead
    (`quiet` None: not waited for)."""
    started = time.monotonic()
    while True:
        load = os.getloadavg()[0]
        compactions = active_compactions()
        waited = time.monotonic() - started
        quiet = load < quiet_load and not compactions
        if max_wait_s <= 0 or quiet or waited >= max_wait_s:
            return {"waited_s": waited, "load1": load, "compactions": compactions,
                    "quiet": quiet if max_wait_s > 0 else None}
        log(f"waiting for a quiet machine: load {load:.2f}, compactions {compactions or 'none'} "
            f"({waited:.0f}/{max_wait_s:.0f}s)")
        time.sleep(15)
