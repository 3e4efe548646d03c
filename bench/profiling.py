"""Where a server's CPU goes during one bench case: py-spy on its pid, else pyinstrument inside it.

py-spy samples a running process from outside (``py-spy record --pid``, raw collapsed stacks,
``--nolineno``, non-blocking so the target is not paused), which needs ptrace; containers often
deny it. The fallback is a second target started as ``python -m pyinstrument -r pstats -o FILE
-m kgate proxy …``, which writes its statistics when SIGTERM has stopped kgate. Both end as the
same list: the functions with the most self time (where the samples' innermost frame was) and
their inclusive share.
"""

from __future__ import annotations

import math
import pstats
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    function: str
    self_pct: float
    total_pct: float


def _py_spy() -> str:
    return shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


def start_py_spy(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    """Start sampling ``pid`` for ``seconds``; None if py-spy is missing or may not attach."""
    try:
        proc = subprocess.Popen(
            [_py_spy(), "record", "--pid", str(pid), "--format", "raw", "--nolineno",
             "--nonblocking", "--rate", "200", "--duration", str(max(1, round(seconds))),
             "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except FileNotFoundError:
        return None
    return proc


def finish_py_spy(proc: subprocess.Popen[bytes], out: Path) -> tuple[list[Entry], str]:
    """Wait for py-spy; its top entries, or ([], why not)."""
    _, err = proc.communicate(timeout=120)
    if proc.returncode != 0 or not out.exists():
        return [], err.decode(errors="replace").strip().splitlines()[-1:][0] if err else \
            f"py-spy exited {proc.returncode}"
    return collapsed_top(out.read_text()), ""


def collapsed_top(text: str, n: int = 15) -> list[Entry]:
    """Top ``n`` functions by self samples from collapsed stacks (``a;b;c COUNT`` lines)."""
    self_n: Counter[str] = Counter()
    total_n: Counter[str] = Counter()
    samples = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        c = int(count)
        frames = stack.split(";")
        samples += c
        self_n[frames[-1]] += c
        for f in set(frames):
            total_n[f] += c
    if not samples:
        return []
    return [Entry(f, 100 * c / samples, 100 * total_n[f] / samples)
            for f, c in self_n.most_common(n)]


def pstats_top(path: Path, n: int = 15) -> list[Entry]:
    """Top ``n`` functions by self time from a pstats file (pyinstrument ``-r pstats``)."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values()) or 1.0
    rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
    # pyinstrument's cumulative times count a recursive function once per level: over 100% is
    # not a share, so it is left out (NaN, printed as —).
    return [Entry(f"{func} ({Path(file).name}:{line})", 100 * v[2] / total,
                  100 * v[3] / total if v[3] <= total else math.nan)
            for (file, line, func), v in rows]


def print_top(title: str, entries: list[Entry]) -> None:
    print(f"\n{title}\n{'self %':>7}{'total %':>9}  function")
    for e in entries:
        total = "—" if math.isnan(e.total_pct) else f"{e.total_pct:.1f}"
        print(f"{e.self_pct:>7.1f}{total:>9}  {e.function}")
