"""Start-up time of the foreground commands: launch until the kubeconfig file exists.

That moment is what a script waits for (``kgate sandbox`` and ``kgate proxy`` write their
kubeconfig only once they accept connections). Also reports ``kgate --help`` wall time.

Run: ``python -m bench.startup [--runs 5]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _start(args: list[str], out: Path, env: dict[str, str]
           ) -> tuple[subprocess.Popen[bytes], float]:
    """Launch ``args``; return the process and the seconds until ``out`` existed."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not out.exists():
        if proc.poll() is not None:
            raise SystemExit(f"{' '.join(args[2:4])} exited {proc.returncode}")
        time.sleep(0.002)
    return proc, time.perf_counter() - t0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)


def _until_file(args: list[str], out: Path, env: dict[str, str]) -> float:
    proc, seconds = _start(args, out, env)
    _stop(proc)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    kgate = [sys.executable, "-m", "kgate"]
    rows: dict[str, list[float]] = {"kgate --help": [], "sandbox (fresh home)": [],
                                    "sandbox --seed demo": [], "proxy": []}
    for _ in range(args.runs):
        tmp = Path(tempfile.mkdtemp(prefix="kgate-start-"))
        env = dict(os.environ, KGATE_HOME=str(tmp / "home"))
        t0 = time.perf_counter()
        subprocess.run([*kgate, "--help"], env=env, capture_output=True, check=True)
        rows["kgate --help"].append(time.perf_counter() - t0)
        rows["sandbox (fresh home)"].append(
            _until_file([*kgate, "sandbox", "--kubeconfig-out", str(tmp / "a.kc")],
                        tmp / "a.kc", env))
        sb, seconds = _start([*kgate, "sandbox", "--seed", "demo", "--kubeconfig-out",
                              str(tmp / "sb.kc")], tmp / "sb.kc", env)
        rows["sandbox --seed demo"].append(seconds)
        try:
            rows["proxy"].append(_until_file(
                [*kgate, "proxy", "--no-grant", "--kubeconfig", str(tmp / "sb.kc"),
                 "--kubeconfig-out",
                 str(tmp / "agent.kc")], tmp / "agent.kc", env))
        finally:
            _stop(sb)
    print(f"{'command':<24}{'median ms':>10}{'min ms':>9}{'max ms':>9}   ({args.runs} runs)")
    for name, xs in rows.items():
        print(f"{name:<24}{statistics.median(xs) * 1e3:>10.0f}{min(xs) * 1e3:>9.0f}"
              f"{max(xs) * 1e3:>9.0f}")


if __name__ == "__main__":
    main()
