"""A demo-seeded sandbox behind a proxy that writes the real session log under its KGATE_HOME,
and the ``kgate sessions`` CLI run in-process against that home."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from kgate.cli import app
from kgate.proxy.runner import ProxyThread, RunningProxy
from kgate.sandbox.runner import (
    ADMIN_TOKEN,
    ADMIN_USER,
    RunningSandbox,
    SandboxOptions,
    sandbox_in_thread,
)
from tests.fixtures.proxy import BROKER_USER, start_logged_proxy_thread

SessionsCli = Callable[..., Result]


@dataclass
class Logged:
    """A sandbox, a logging proxy in front of it, and where its state lives."""

    sandbox: RunningSandbox
    upstream_kubeconfig: Path
    home: Path
    thread: ProxyThread
    proxy: RunningProxy
    kubeconfig: Path

    @property
    def session_id(self) -> str:
        return self.proxy.session.id

    @property
    def log_path(self) -> Path:
        return self.home / "sessions" / f"{self.session_id}.jsonl"

    def stop(self) -> None:
        """Stop the proxy: the log is sealed."""
        self.thread.stop()


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Logged]:
    broker_token = "broker-" + secrets.token_urlsafe(16)
    options = SandboxOptions(state_dir=tmp_path / "sandbox", seed="demo",
                             tokens={broker_token: BROKER_USER, ADMIN_TOKEN: ADMIN_USER})
    with sandbox_in_thread(options) as sandbox:
        upstream = sandbox.write_kubeconfig(tmp_path / "user" / "config", token=broker_token)
        home = tmp_path / "kgate-home"
        thread, proxy = start_logged_proxy_thread(upstream, home)
        try:
            kubeconfig = proxy.write_kubeconfig(tmp_path / "agent" / "kubeconfig")
            yield Logged(sandbox, upstream, home, thread, proxy, kubeconfig)
        finally:
            thread.stop()


@pytest.fixture
def sessions_cli(tmp_path: Path) -> Callable[[Path], SessionsCli]:
    """``sessions_cli(home)("verify", "s-…")``: ``kgate sessions …`` with KGATE_HOME=home."""

    def bind(home: Path) -> SessionsCli:
        def run(*args: str, **kw: Any) -> Result:
            runner = CliRunner()
            return runner.invoke(app, ["sessions", *args], catch_exceptions=False,
                                 env={"KGATE_HOME": str(home), "NO_COLOR": "1",
                                      "COLUMNS": "250"}, **kw)
        return run
    return bind
