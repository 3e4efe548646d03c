"""``kgate exec`` start-up: launch → the agent starts, and launch → its first kubectl answer.

Beside them, in the same run: ``python -c pass`` (the interpreter's floor) and ``kubectl version
--client`` (what an agent's first command costs without any proxy). The agent writes a
timestamp (``date +%s.%N``) as its first act; the first-answer figure runs ``kubectl get ns``
through the proxy, whose first connection waits in the listen backlog until the proxy child is
serving. Goal (issue 11): the agent starts within 200 ms, its first call is answered within 1 s.

Confinement (issue 14) is on by default; the same start is measured with ``--no-confine``, and
the in-process cost of confining (planning the rules, building the Landlock ruleset, forking
with a ``preexec_fn`` and applying it) is timed on its own, since the end-to-end difference is
small beside the noise of a shared machine. Goal: ≤ 20 ms.

Run: ``python -m bench.exec_bench [--runs 7]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kgate.kubectl import find_kubectl


def _wait_file(path: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"sandbox did not start ({proc.returncode})")
        time.sleep(0.01)


_IMPORTS = ("import kgate.agent.supervise, time; t = time.perf_counter(); "
            "import kgate.agent.confine, kgate.agent.landlock, kgate.agent.mountns; "
            "print(time.perf_counter() - t)")


def _confine_cost(tmp: Path) -> tuple[float, float]:
    """Seconds to plan, build and apply the confinement and spawn ``true``; and to spawn it
    plainly (the difference is what confinement adds before the agent's first instruction)."""
    from kgate.agent.confine import ConfineRequest, confiner_for, require
    agent_dir = Path(tempfile.mkdtemp(prefix="kgate-bench-agent-"))
    t0 = time.perf_counter()
    env = dict(os.environ)
    confiner = confiner_for(ConfineRequest(abi=require(), kgate_home=tmp / "home"),
                            agent_dir=agent_dir, proxy_port=1, env=env)
    try:
        subprocess.run(["true"], env=env, process_group=0, preexec_fn=confiner, check=True)
    finally:
        confiner.close()
    t1 = time.perf_counter()
    subprocess.run(["true"], env=env, process_group=0, check=True)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    kubectl = find_kubectl(Path(__file__).resolve().parents[1])
    tmp = Path(tempfile.mkdtemp(prefix="kgate-exec-bench-"))
    env = dict(os.environ, KGATE_HOME=str(tmp / "home"))
    upstream = tmp / "sandbox.kc"
    sandbox = subprocess.Popen([sys.executable, "-m", "kgate", "sandbox", "--kubeconfig-out",
                                str(upstream)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    rows: dict[str, list[float]] = {"python -c pass": [], "kubectl version --client": [],
                                    "exec → agent started": [], "exec → first answer": [],
                                    "--no-confine → started": [],
                                    "confine (in-process)": [], "spawn, no confine": [],
                                    "confine imports": []}
    work = tmp / "agent-cwd"   # a confined agent writes only in its cwd, $HOME and TMPDIR
    work.mkdir()
    try:
        _wait_file(upstream, sandbox)
        exec_argv = [sys.executable, "-m", "kgate", "exec", "--quiet", "--no-grant", "--kubeconfig",
                     str(upstream), "--"]
        for i in range(args.runs + 1):   # the first round warms the page cache; not counted
            stamp, answered = work / f"started-{i}", work / f"answered-{i}"
            unconfined = work / f"unconfined-{i}"
            t_pass = time.time()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            t_kc = time.time()
            subprocess.run([kubectl, "version", "--client"], capture_output=True, check=True)
            t_exec = time.time()
            subprocess.run([*exec_argv, "sh", "-c",
                            f"date +%s.%N > {stamp}; {kubectl} get ns -o name > /dev/null "
                            f"&& date +%s.%N > {answered}"], env=env, check=True, cwd=work)
            t_noconf = time.time()
            subprocess.run([*exec_argv[:-1], "--no-confine", "--", "sh", "-c",
                            f"date +%s.%N > {unconfined}"], env=env, check=True, cwd=work)
            confine_s, plain_s = _confine_cost(tmp)
            if i == 0:
                continue
            rows["--no-confine → started"].append(float(unconfined.read_text()) - t_noconf)
            rows["confine (in-process)"].append(confine_s)
            rows["spawn, no confine"].append(plain_s)
            rows["confine imports"].append(float(subprocess.run(
                [sys.executable, "-c", _IMPORTS], capture_output=True, text=True,
                check=True).stdout))
            rows["python -c pass"].append(t_kc - t_pass)
            rows["kubectl version --client"].append(t_exec - t_kc)
            rows["exec → agent started"].append(float(stamp.read_text()) - t_exec)
            rows["exec → first answer"].append(float(answered.read_text()) - t_exec)
    finally:
        sandbox.terminate()
        sandbox.wait(10)
    print(f"{'':<28}{'median ms':>10}{'min ms':>9}{'max ms':>9}   ({args.runs} runs)")
    for name, xs in rows.items():
        print(f"{name:<28}{statistics.median(xs) * 1e3:>10.0f}{min(xs) * 1e3:>9.0f}"
              f"{max(xs) * 1e3:>9.0f}")


if __name__ == "__main__":
    main()
