"""``kgate demo``: a whole session, end to end, with no cluster and no identity provider.

It plays both people in the story. As the *human*: start the sandbox cluster (seeded with
workloads and fake credentials), ask for a grant on ``prod-payments`` and approve it. As the
*agent*: run the scripted agent (``kgate/examples/demo-agent.sh``) under ``kgate exec`` — it lists
pods, reads a Secret, tails logs that print a key, tries to delete the namespace and deletes a
pod. Back as the human: approve the held delete from "another terminal" while the agent's
kubectl waits, then show the session log and verify it. Every step runs the real commands
(``kgate request``, ``kgate approve``, ``kgate exec``, ``kgate sessions …``) as subprocesses in a
private ``KGATE_HOME`` that is removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from kgate.errors import KgateError, UnavailableError
from kgate.kubectl import find_kubectl

NAMESPACE = "prod-payments"
#: How long the demo's "human" looks at a held request before approving it.
REVIEW_PAUSE = 1.5


class Demo:
    """One run of the demo: its private home, its sandbox and its narration."""

    def __init__(self, console: Console, home: Path) -> None:
        self.console = console
        self.home = home
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("KGATE_", "KUBECONFIG"))}
        self.env.update(KGATE_HOME=str(home), NO_COLOR="1", COLUMNS="100")
        self.step_no = 0

    # -- narration ---------------------------------------------------------------------------

    def step(self, who: str, text: str) -> None:
        self.step_no += 1
        style = "bold magenta" if who == "human" else "bold cyan"
        self.console.print(f"\n[{style}]{self.step_no}. {who}[/] — {text}")

    def say(self, text: str) -> None:
        self.console.print(f"   [dim]{text}[/]", soft_wrap=True)

    def kgate(self, *args: str, check: bool = True, show: bool = True
              ) -> subprocess.CompletedProcess[str]:
        self.console.print(f"   [bold]$ kgate {escape(' '.join(args))}[/]")
        proc = subprocess.run([sys.executable, "-m", "kgate", *args], capture_output=True,
                              text=True, env=self.env, timeout=120, check=False)
        if show:
            for line in (proc.stdout + proc.stderr).rstrip().splitlines():
                self.console.print(f"   {escape(line)}", soft_wrap=True, highlight=False)
        if check and proc.returncode != 0:
            raise KgateError(f"the demo step 'kgate {' '.join(args)}' failed "
                             f"(exit {proc.returncode})")
        return proc

    # -- the story ---------------------------------------------------------------------------

    def run(self, user_kubeconfig: Path, kubectl: str) -> int:
        from kgate.policy.loader import default_policy_text

        # The built-in policy, except that the demo's one person may approve their own grant
        # (it plays both the requester and the approver; local mode cannot tell them apart).
        # Approvers are left out: the default approver is that person (local:<user>).
        (self.home / "policy.yaml").write_text(default_policy_text().replace(
            "allowSelfApproval: false", "allowSelfApproval: true   # the demo plays both people"))
        self.step("human", "asks for access: one namespace, read and delete, for 10 minutes")
        requested = self.kgate("request", "--kubeconfig", str(user_kubeconfig), "--namespace",
                               NAMESPACE, "--ttl", "10m", "--verb", "get,list,watch,delete",
                               "--reason", "demo: restart a payments worker", "--json",
                               show=False)
        grant = json.loads(requested.stdout)["id"]
        self.say(f"grant {grant} is pending until an approver says yes")
        self.step("human", "approves it (in real life: a colleague, or you after a fresh login)")
        self.kgate("approve", grant, "--yes", "--comment", "demo")

        self.step("agent", f"runs under 'kgate exec --grant {grant}': its kubectl reaches the "
                           "cluster only through kgate")
        self.say("the agent's kubeconfig holds a session token that works nowhere else; your "
                 "credential stays with kgate")
        script = resources.files("kgate.examples").joinpath("demo-agent.sh").read_text()
        env = dict(self.env, KUBECTL=kubectl, NS=NAMESPACE)
        reviewer = threading.Thread(target=self._review_holds, daemon=True)
        reviewer.start()
        workdir = self.home.parent / "agent"   # the agent's project dir (not inside KGATE_HOME)
        workdir.mkdir(exist_ok=True)
        agent = subprocess.run(
            [sys.executable, "-m", "kgate", "exec", "--grant", grant, "--kubeconfig",
             str(user_kubeconfig), "--", "sh", "-c", script],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=180,
            check=False, cwd=workdir)
        self._stop_review = True
        reviewer.join(5)
        for line in agent.stdout.rstrip().splitlines():
            shown = f"[bold cyan]{escape(line)}[/]" if line.startswith("agent>") else escape(line)
            self.console.print(f"   {shown}", soft_wrap=True, highlight=False)
        if agent.returncode != 0:
            self.say(f"the agent's session ended with exit {agent.returncode}")
            return 1
        self.say("what you saw: the Secret's values and the key in the log came back as "
                 "kgate:masked:…; the namespace delete was refused by a named rule; the pod "
                 "delete waited for a human and then went through")

        self.step("human", "reads what the agent did, and checks nobody edited the record")
        self.kgate("sessions", "show")
        verified = self.kgate("sessions", "verify", "--all", check=False)
        return 0 if agent.returncode == 0 and verified.returncode == 0 else 1

    _stop_review = False

    def _review_holds(self) -> None:
        """The human in another terminal: approve each held call after a look at it."""
        seen: set[str] = set()
        while not self._stop_review:
            proc = subprocess.run([sys.executable, "-m", "kgate", "pending", "--json"],
                                  capture_output=True, text=True, env=self.env, timeout=60,
                                  check=False)
            try:
                items = json.loads(proc.stdout) if proc.returncode == 0 else []
            except ValueError:
                items = []
            for item in items:
                if item.get("kind") != "hold" or item["id"] in seen:
                    continue
                seen.add(item["id"])
                self.console.print(
                    f"\n   [bold magenta]human[/] (another terminal) sees held call "
                    f"{item['id']}: {escape(str(item.get('summary')))}")
                time.sleep(REVIEW_PAUSE)
                self.kgate("approve", item["id"], "--yes", "--comment", "fine, restart it")
            time.sleep(0.3)


def run_demo(console: Console, keep: bool = False,
             on_home: Callable[[Path], None] | None = None) -> int:
    """Run the whole demo; return 0 if every step did what it should."""
    from kgate.sandbox.runner import ADMIN_TOKEN, SandboxOptions, sandbox_in_thread

    kubectl = find_kubectl()
    base = Path(tempfile.mkdtemp(prefix="kgate-demo-"))
    home = base / "home"
    home.mkdir(mode=0o700)
    if on_home is not None:
        on_home(home)
    started = time.monotonic()
    console.print(Panel.fit(
        "[bold]kgate demo[/] — an AI agent on a payments cluster, with kgate in between.\n"
        "No real cluster or identity provider: a sandbox API server runs on loopback with fake "
        "credentials in it.", border_style="cyan"))
    try:
        with sandbox_in_thread(SandboxOptions(state_dir=home / "sandbox", seed="demo")) as sb:
            user = sb.write_kubeconfig(home / "your-kubeconfig", token=ADMIN_TOKEN)
            console.print(f"   [dim]sandbox cluster at {sb.url}; your kubeconfig: {user}[/]")
            code = Demo(console, home).run(user, kubectl)
    except OSError as err:
        raise UnavailableError(f"the demo could not start its sandbox ({err.strerror})") from err
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
    took = time.monotonic() - started
    console.print(f"\n[bold green]done[/] in {took:.0f} s." if code == 0 else
                  f"\n[bold red]the demo did not go as planned[/] ({took:.0f} s).")
    console.print("Next: [bold]kgate login[/], [bold]kgate request --namespace NS --ttl 30m[/], "
                  "[bold]kgate exec -- your-agent[/] (docs/cli.md).")
    if keep:
        console.print(f"[dim]kept: {home} (KGATE_HOME={home} kgate sessions show)[/]")
    return code
