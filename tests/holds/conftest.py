"""A proxy under the built-in default policy (holds in its own ``KGATE_HOME``) for real kubectl.

``gated(hold_timeout=…)`` starts one in front of the ``proxied`` fixture's sandbox; approvals
come from ``kgate approve`` run as a separate process against the same home, the way a
human in another terminal would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kgate.holds.model import Hold
from kgate.holds.store import HoldStore
from kgate.policy import Policy, parse_policy
from kgate.policy.loader import default_policy_text
from kgate.proxy.runner import ProxyThread, RunningProxy
from kgate.proxy.stages.audit import MemoryAudit
from tests.fixtures.proxy import Proxied, start_proxy_thread

REPO = Path(__file__).resolve().parents[2]


def default_policy(hold_timeout: str = "60s", extra: str = "") -> Policy:
    """The built-in default with another timeout and ``extra`` rules appended to its rules."""
    text = default_policy_text().replace("holdTimeout: 60s", f"holdTimeout: {hold_timeout}")
    return parse_policy(text.replace("\nbuiltins:\n", f"\n{extra}builtins:\n"), "test-default")


@dataclass
class Gated:
    proxied: Proxied
    home: Path
    kubeconfig: Path
    thread: ProxyThread
    proxy: RunningProxy
    audit: MemoryAudit

    def kgate(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the kgate CLI in a separate process, as the human at another terminal."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KGATE_")}
        env["KGATE_HOME"] = str(self.home)
        proc = subprocess.run([sys.executable, "-m", "kgate", *args], capture_output=True,
                              text=True, env=env, timeout=120, cwd=REPO, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"kgate {' '.join(args)} exited {proc.returncode}\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def wait_for_hold(self, timeout: float = 60, known: set[str] | None = None) -> Hold:
        """The first pending hold not in ``known`` (polling the shared store)."""
        store = HoldStore(self.home)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for hold in store.pending():
                    if not known or hold.id not in known:
                        return hold
                time.sleep(0.1)
        finally:
            store.close()
        raise AssertionError("no hold appeared")

    def pending_json(self) -> list[dict[str, object]]:
        return list(json.loads(self.kgate("pending", "--json").stdout))


@pytest.fixture
def gated(proxied: Proxied, tmp_path: Path) -> Iterator[Callable[..., Gated]]:
    started: list[ProxyThread] = []

    def start(hold_timeout: str = "60s", extra: str = "", name: str = "gated") -> Gated:
        home = tmp_path / f"{name}-home"
        thread, proxy, audit = start_proxy_thread(proxied.upstream_kubeconfig, home,
                                                  policy=default_policy(hold_timeout, extra))
        started.append(thread)
        kubeconfig = proxy.write_kubeconfig(tmp_path / name / "kubeconfig")
        return Gated(proxied, home, kubeconfig, thread, proxy, audit)

    try:
        yield start
    finally:
        for thread in started:
            thread.stop()
