"""``kgate demo`` as a newcomer runs it: the whole story, narrated, and nothing left behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kgate.sandbox.seed import DEMO_SECRET_VALUES

pytestmark = pytest.mark.timeout(240)


def test_demo_runs_the_whole_session_and_cleans_up(tmp_path: Path) -> None:
    before = {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("kgate-demo-")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KGATE_", "KUBECONFIG"))}
    env.update(HOME=str(tmp_path), COLUMNS="120", NO_COLOR="1")
    work = tmp_path / "cwd"
    work.mkdir()
    proc = subprocess.run([sys.executable, "-m", "kgate", "demo"], capture_output=True,
                          text=True, env=env, timeout=200, check=False, cwd=work)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Traceback" not in out
    # the story, in order: grant approved, secrets masked, namespace delete denied, the pod
    # delete held and approved by the human, the log shown and verified
    assert re.search(r"g-[0-9a-f]+ approved", out)
    assert "password: a2dhdGU6bWFza2Vk" in out           # base64 of "kgate:masked"
    assert "stripe key kgate:masked:" in out
    assert "denied by rule no-namespace-delete" in out
    assert re.search(r"held call h-[0-9a-f]+", out) and "deleted" in out
    assert "intact and sealed" in out
    for value in DEMO_SECRET_VALUES:
        assert value not in out
    after = {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("kgate-demo-")}
    assert after <= before, "the demo left its temporary home behind"
