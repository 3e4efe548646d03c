"""Issue 4's acceptance test: a corpus of real kubectl 1.32 commands through ``kgate proxy``.

One module-scoped run does everything a curious agent would: a sandbox seeded with the leaky
``demo`` set plus extra objects (a client-side-applied Secret whose last-applied annotation
holds ``stringData`` in clear, a ConfigMap with a PEM key and a URL with a password, a pod with
literal secret-named env values, a mounted Secret volume and a log that prints credentials), and
``python -m kgate proxy`` in front of it as a subprocess (so its own stderr is ours to read).
Every kubectl command's stdout and stderr is kept; the tests then assert that no secret value
(raw, base64 at any alignment, JSON-escaped, or one line of a multi-line value) appears in any
byte kubectl printed, in kgate's stderr or in any file under ``$KGATE_HOME`` — and that what is
not secret (labels, images, plain env, plain ConfigMap values, Secret keys, item counts) comes
through unchanged. Failure messages name the command and the value's index, never the value.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from kgate.sandbox.runner import RunningSandbox, SandboxOptions, sandbox_in_thread
from kgate.sandbox.seed import DEMO_SECRET_VALUES
from tests.fixtures.kube import kubectl_env
from tests.fixtures.proxy import permissive_policy_file

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"kgate:masked:[0-9a-f]{8}")
STEP_TIMEOUT = 30.0

# -- the extra objects' secret values (fakes made for this file) -----------------------------
APPLIED_PASSWORD = "xTr4-Appl1ed-P4ss-9Zk"
APPLIED_API_KEY = "ak_corpus_7Yt5Rw2Qp9Ln4Mx8Vb"
URL_PASSWORD = "Url-Pa55w0rd-Xq7Tz"
POD_ENV_PASSWORD = "PodEnv-Pa55-4Lm8Kd"
POD_ENV_TOKEN = "svc_tok_Q8w7E6r5T4y3U2i1"
LOG_PASSWORD = "LogPr1nted-Pw-55Hj"
LOG_GITLAB = "glpat-CorpusFake1234567890ab"
WATCH_PASSWORD = "W4tch-Rot4ted-Pw-3Nc"
AGENT_PASSWORD = "Ag3nt-Wr1tten-Pw-8Sx"
RSA_KEY_PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEAcorpusTestKeyNotARealKeyJustShapedLikeOneQQQQQQQ\n"
    "Zm9yIHRoZSBrZ2F0ZSBjb3JwdXMgdGVzdCBvbmx5IC0gbm90IGEgcmVhbCBrZXkK\n"
    "-----END RSA PRIVATE KEY-----\n")
EXTRA_SECRET_VALUES = [APPLIED_PASSWORD, APPLIED_API_KEY, URL_PASSWORD, POD_ENV_PASSWORD,
                       POD_ENV_TOKEN, LOG_PASSWORD, LOG_GITLAB, WATCH_PASSWORD, AGENT_PASSWORD,
                       RSA_KEY_PEM]
ALL_SECRET_VALUES = [*DEMO_SECRET_VALUES, *EXTRA_SECRET_VALUES]

PLAIN_CONFIG = {"MODE": "production", "PLAIN_URL": "https://git.example.com/org/repo.git",
                "COMMIT": "3f9a1c2e5b7d9f0a1c3e5b7d9f0a1c3e5b7d9f0a",
                "REQUEST_ID": "123e4567-e89b-12d3-a456-426614174000"}
LEAKY_LOG = (
    "2025-01-01T00:00:00Z INFO leaky starting\n"
    f"2025-01-01T00:00:01Z DEBUG db login password={LOG_PASSWORD}\n"
    f"2025-01-01T00:00:02Z DEBUG gitlab token {LOG_GITLAB}\n"
    "2025-01-01T00:00:03Z INFO LOG_LEVEL=warn ready\n")


def _extra_manifest() -> str:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "app-creds", "namespace": "dev", "labels": {"team": "corpus"}},
         "type": "Opaque",
         "stringData": {"password": APPLIED_PASSWORD, "api-key": APPLIED_API_KEY}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "corpus-config", "namespace": "dev",
                      "labels": {"team": "corpus"}},
         "data": {"tls.key": RSA_KEY_PEM,
                  "GIT_REMOTE": f"https://deployer:{URL_PASSWORD}@git.example.com/org/repo.git",
                  **PLAIN_CONFIG}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "leaky", "namespace": "dev", "labels": {"app": "leaky"},
                      "annotations": {"sandbox.kgate.dev/log": LEAKY_LOG,
                                      "sandbox.kgate.dev/log-every": "300ms"}},
         "spec": {"containers": [{
             "name": "app", "image": "example/leaky:0.1",
             "env": [{"name": "LOG_LEVEL", "value": "warn"},
                     {"name": "DB_PASSWORD", "value": POD_ENV_PASSWORD},
                     {"name": "SERVICE_TOKEN", "value": POD_ENV_TOKEN},
                     {"name": "API_KEY", "valueFrom": {"secretKeyRef": {
                         "name": "app-creds", "key": "api-key"}}}],
             "volumeMounts": [{"name": "creds", "mountPath": "/etc/creds",
                               "readOnly": True}]}],
             "volumes": [{"name": "creds", "secret": {"secretName": "app-creds"}}]}},
    ]
    return yaml.safe_dump_all(docs, sort_keys=False)


# -- finding secrets in bytes without ever printing them ---------------------------------------

def _b64_forms(raw: bytes) -> list[tuple[str, bytes]]:
    """The base64 of ``raw`` at the three alignments it can take inside a longer encoding:
    the characters that depend only on ``raw`` (first/last group trimmed where they mix)."""
    forms = [("base64", base64.b64encode(raw).rstrip(b"="))]
    for shift in (1, 2):
        enc = base64.b64encode(b"\0" * shift + raw)
        inner = enc[4:-4]
        if len(inner) >= 8:
            forms.append((f"base64@{shift}", inner))
    return forms


def _needles(values: Sequence[str]) -> list[tuple[int, str, bytes]]:
    """(value index, form name, bytes) for every form a value could leak in."""
    out: list[tuple[int, str, bytes]] = []
    for i, value in enumerate(values):
        parts: list[tuple[str, bytes]] = [("raw", value.encode())]
        escaped = orjson.dumps(value)[1:-1]
        if escaped != value.encode():
            parts.append(("json-escaped", escaped))
        if "\n" in value.strip():
            parts += [(f"line{n}", line.encode())
                      for n, line in enumerate(value.splitlines()) if len(line) >= 16
                      and not line.startswith("-----")]
        for name, part in parts:
            out.append((i, name, part))
            out += [(i, f"{name}/{form}", enc) for form, enc in _b64_forms(part)]
    return out


NEEDLES = _needles(ALL_SECRET_VALUES)


def leaks(data: bytes) -> list[str]:
    """Which secret values (by index and form) occur in ``data`` — never the values."""
    return sorted({f"secret #{i} ({form})" for i, form, needle in NEEDLES if needle in data})


# -- running kubectl and kgate -----------------------------------------------------------------

@dataclass(repr=False)
class Run:
    """One kubectl command as the agent saw it (no repr: pytest must not print its bytes)."""

    label: str
    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def out(self) -> str:
        return Withheld(self.stdout.decode(errors="replace"))

    @property
    def err(self) -> str:
        return Withheld(self.stderr.decode(errors="replace"))

    def __repr__(self) -> str:
        return f"<Run {self.label!r} rc={self.returncode}>"

    def shown(self) -> str:
        """For failure messages: the tail of stderr, unless it holds a secret value."""
        hits = leaks(self.stderr)
        tail = f"<withheld: {hits}>" if hits else repr(str.__str__(self.err)[-600:])
        return f"`{self.label}` exited {self.returncode}; stderr: {tail}"


class Withheld(str):
    """Command output whose repr never shows the text (pytest prints reprs of failed asserts)."""

    def __repr__(self) -> str:
        return f"<{len(self)} chars of output>"


@dataclass(repr=False)
class Corpus:
    """Everything the corpus run produced (no repr: it holds real secret values)."""

    sandbox: RunningSandbox
    runs: dict[str, Run]
    kgate_stderr: bytes
    kgate_returncode: int
    home_files: dict[str, bytes]
    store: dict[str, Any]

    def __repr__(self) -> str:
        return f"<Corpus {len(self.runs)} runs>"


class Agent:
    """Runs kubectl through the proxy (the agent's kubeconfig) and records every byte."""

    def __init__(self, kubectl: str, kubeconfig: Path, home: Path) -> None:
        self.kubectl, self.kubeconfig, self.home = kubectl, kubeconfig, home
        self.runs: dict[str, Run] = {}

    def env(self, **extra: str) -> dict[str, str]:
        env = kubectl_env(self.kubeconfig, self.home)
        env["TMPDIR"] = str(self.home / "tmp")
        env.update(extra)
        return env

    def run(self, label: str, *args: str, input: bytes | None = None,
            env: dict[str, str] | None = None) -> Run:
        proc = subprocess.run([self.kubectl, *args], input=input, capture_output=True,
                              env=env or self.env(), timeout=STEP_TIMEOUT, check=False)
        run = Run(label, args, proc.returncode, proc.stdout, proc.stderr)
        self.runs[label] = run
        return run

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([self.kubectl, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                env=self.env())


class Reader:
    """Collects a long-running command's output as it arrives (``get -w``, ``logs -f``)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.out = bytearray()
        self.err = bytearray()
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._pump, args=(s, b), daemon=True)
                         for s, b in ((proc.stdout, self.out), (proc.stderr, self.err))]
        for t in self._threads:
            t.start()

    def _pump(self, stream: Any, buf: bytearray) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self._cond:
                buf.extend(chunk)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float = STEP_TIMEOUT) -> bool:
        """Wait until ``predicate(stdout bytes)`` holds while the process is still running."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(bytes(self.out)):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return predicate(bytes(self.out))
                self._cond.wait(min(left, 0.2))
            return self.proc.poll() is None

    def stop(self, label: str, args: Sequence[str]) -> Run:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for t in self._threads:
            t.join(10)
        return Run(label, tuple(args), self.proc.returncode, bytes(self.out), bytes(self.err))


def _start_kgate(upstream: Path, out: Path, home: Path, stderr_path: Path
                 ) -> tuple[subprocess.Popen[bytes], Any]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    env.update(KGATE_HOME=str(home), HOME=str(home), NO_COLOR="1", COLUMNS="200")
    err = stderr_path.open("wb")
    policy = permissive_policy_file(stderr_path.parent / "policy")  # exec/delete unheld
    proc = subprocess.Popen([sys.executable, "-m", "kgate", "proxy", "--no-grant",
                             "--kubeconfig", str(upstream), "--kubeconfig-out", str(out),
                             "--policy", str(policy)],
                            env=env, stdout=err, stderr=err, stdin=subprocess.DEVNULL, cwd=REPO)
    deadline = time.monotonic() + STEP_TIMEOUT
    while not out.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            err.close()
            raise AssertionError("kgate proxy did not write its kubeconfig; its stderr is in "
                                 f"{stderr_path}")
        time.sleep(0.05)
    return proc, err


def _stop_kgate(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def _admin(kubectl: str, kubeconfig: Path, *args: str, input: bytes | None = None) -> None:
    """A cluster-side change (not the agent's): straight to the sandbox as its admin."""
    proc = subprocess.run([kubectl, *args], input=input, capture_output=True, check=False,
                          env=kubectl_env(kubeconfig, kubeconfig.parent), timeout=STEP_TIMEOUT)
    assert proc.returncode == 0, f"admin kubectl {args[0]} failed: {proc.stderr[-400:]!r}"


def _wait_running(sandbox: RunningSandbox, namespace: str, name: str) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        pod = sandbox.run(lambda: sandbox.store.get("", "pods", namespace, name))
        if pod and (pod.get("status") or {}).get("phase") == "Running":
            return
        time.sleep(0.05)
    raise AssertionError(f"pod {namespace}/{name} never ran")


def _secret_data(sandbox: RunningSandbox, namespace: str, name: str) -> dict[str, str]:
    obj = sandbox.run(lambda: sandbox.store.get("", "secrets", namespace, name)) or {}
    return dict(obj.get("data") or {})


COLD_EXEC = ("exec cat secret file, cold session", "exec sh echo, cold session")

EDIT_LABEL = """\
import sys, pathlib
p = pathlib.Path(sys.argv[-1])
p.write_text(p.read_text().replace("team: corpus", "team: edited", 1))
"""
# Copies the (masked) password into api-key: the write-back a naive agent would attempt.
EDIT_WRITE_BACK = """\
import sys, pathlib, re
p = pathlib.Path(sys.argv[-1])
text = p.read_text()
m = re.search(r"^  password: (\\S+)$", text, re.M)
text = re.sub(r"^  api-key: \\S+$", "  api-key: " + m.group(1), text, count=1, flags=re.M)
p.write_text(text.replace("team: corpus", "team: sneaky", 1))
"""


def _editor(path: Path, script: str) -> str:
    path.write_text(script)
    return f"{sys.executable} {path}"


def _exercise(agent: Agent, sandbox: RunningSandbox, admin_kubeconfig: Path,
              work: Path) -> dict[str, Any]:
    """Every command of the corpus, in the order an agent might run them."""
    run = agent.run
    store: dict[str, Any] = {"before": {
        "db-credentials": _secret_data(sandbox, "prod-payments", "db-credentials"),
        "app-creds": _secret_data(sandbox, "dev", "app-creds")}}
    # First, before the session has read any Secret or pod: bare values with no context.
    run(COLD_EXEC[0], "exec", "leaky", "-n", "dev", "--", "cat", "/etc/creds/password")
    run(COLD_EXEC[1], "exec", "leaky", "-n", "dev", "--", "sh", "-c", "echo $DB_PASSWORD")
    run("get pods -A", "get", "pods", "-A")
    run("get secrets -A", "get", "secrets", "-A")
    run("get secrets -A -o yaml", "get", "secrets", "-A", "-o", "yaml")
    run("get secrets -n dev -o json", "get", "secrets", "-n", "dev", "-o", "json")
    store["dev secrets"] = sandbox.run(lambda: sandbox.store.list("", "secrets", "dev"))
    for ns, name in (("prod-payments", "db-credentials"), ("dev", "app-creds"),
                     ("dev", "web-tls"), ("prod-payments", "registry-pull"),
                     ("dev", "aws-credentials")):
        run(f"get secret {name} -o yaml", "get", "secret", name, "-n", ns, "-o", "yaml")
    run("jsonpath password", "get", "secret", "db-credentials", "-n", "prod-payments",
        "-o", "jsonpath={.data.password}")
    run("get configmaps -A -o yaml", "get", "configmaps", "-A", "-o", "yaml")
    run("get configmap web-config -o json", "get", "configmap", "web-config", "-n", "dev",
        "-o", "json")
    run("get configmap corpus-config -o json", "get", "configmap", "corpus-config", "-n", "dev",
        "-o", "json")
    run("get pod leaky -o yaml", "get", "pod", "leaky", "-n", "dev", "-o", "yaml")
    run("get pods -A -o json", "get", "pods", "-A", "-o", "json")
    run("get deploy -A -o yaml", "get", "deploy", "-A", "-o", "yaml")
    run("get rs -A -o json", "get", "rs", "-A", "-o", "json")
    run("describe secret", "describe", "secret", "db-credentials", "registry-pull", "-n",
        "prod-payments")
    run("describe secrets dev", "describe", "secrets", "-n", "dev")
    run("describe pod leaky", "describe", "pod", "leaky", "-n", "dev")
    run("describe deploy api", "describe", "deploy", "api", "-n", "dev")
    run("describe configmap", "describe", "configmap", "-n", "dev")
    run("get events -A", "get", "events", "-A")
    run("get events -A -o yaml", "get", "events", "-A", "-o", "yaml")
    run("logs leaky", "logs", "leaky", "-n", "dev")
    run("logs deploy/api", "logs", "deploy/api", "-n", "dev")
    run("logs deploy/web", "logs", "deploy/web", "-n", "dev")
    run("logs payments-worker", "logs", "deploy/payments-worker", "-n", "prod-payments")
    run("exec cat secret file", "exec", "leaky", "-n", "dev", "--", "cat",
        "/etc/creds/password")
    run("exec cat api-key file", "exec", "leaky", "-n", "dev", "--", "cat",
        "/etc/creds/api-key")
    run("exec env", "exec", "leaky", "-n", "dev", "--", "env")
    run("exec sh echo", "exec", "leaky", "-n", "dev", "--", "sh", "-c", "echo $DB_PASSWORD")
    run("exec sh echo api key", "exec", "leaky", "-n", "dev", "--", "sh", "-c",
        "echo key is $API_KEY; printenv SERVICE_TOKEN")

    # Streams, while they are open: a watch sees a Secret change; logs -f sees new lines.
    watch_json_args = ("get", "secrets", "-n", "dev", "-w", "-o", "json")
    watch_table_args = ("get", "secrets", "-n", "dev", "-w", "--output-watch-events")
    follow_args = ("logs", "-f", "leaky", "-n", "dev")
    watch_json = Reader(agent.start(*watch_json_args))
    watch_table = Reader(agent.start(*watch_table_args))
    follow = Reader(agent.start(*follow_args))
    notes: dict[str, Any] = {
        "watch json initial": watch_json.wait_for(lambda b: b.count(b'"kind": "Secret"') >= 4),
        "watch table initial": watch_table.wait_for(lambda b: b"app-creds" in b),
        "follow initial": follow.wait_for(lambda b: b"ready" in b)}
    _admin(agent.kubectl, admin_kubeconfig, "patch", "secret", "app-creds", "-n", "dev",
           "--type", "merge", "-p",
           orjson.dumps({"metadata": {"labels": {"rotated": "yes"}},
                         "stringData": {"password": WATCH_PASSWORD}}).decode())
    notes["watch json update"] = watch_json.wait_for(lambda b: b'"rotated": "yes"' in b)
    # The sandbox labels this event ADDED, not MODIFIED (its selector filter): count rows.
    notes["watch table update"] = watch_table.wait_for(lambda b: b.count(b"app-creds") >= 2)
    notes["follow heartbeat"] = follow.wait_for(lambda b: b"heartbeat n=" in b)
    for label, reader, args in (("get -w -o json", watch_json, watch_json_args),
                                ("get -w", watch_table, watch_table_args),
                                ("logs -f", follow, follow_args)):
        agent.runs[label] = reader.stop(label, args)
    agent.runs["streams"] = Run("streams", (), 0, b"", b"", notes)
    run("get secret app-creds after rotation", "get", "secret", "app-creds", "-n", "dev",
        "-o", "yaml")

    # Writes: allowed ones that carry no placeholder, refused ones that do.
    run("edit configmap label", "edit", "configmap", "corpus-config", "-n", "dev",
        env=agent.env(KUBE_EDITOR=_editor(work / "edit-label.py", EDIT_LABEL)))
    run("get configmap after edit", "get", "configmap", "corpus-config", "-n", "dev",
        "-o", "json")
    store["corpus-config after edit"] = sandbox.run(
        lambda: sandbox.store.get("", "configmaps", "dev", "corpus-config"))
    manifest = yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "agent-config", "namespace": "dev", "labels": {"owner": "agent"}},
         "data": {"greeting": "hello", "retries": "3"}},
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "agent-secret", "namespace": "dev"},
         "stringData": {"password": AGENT_PASSWORD}}])
    (work / "agent.yaml").write_text(manifest)
    run("apply", "apply", "-f", str(work / "agent.yaml"))
    run("get after apply", "get", "configmap/agent-config", "secret/agent-secret", "-n", "dev",
        "-o", "json")
    replace_in = agent.run("get secret for replace", "get", "secret", "db-credentials", "-n",
                           "prod-payments", "-o", "json").stdout
    run("replace -f -", "replace", "-f", "-", input=replace_in)
    run("edit secret write-back", "edit", "secret", "app-creds", "-n", "dev",
        env=agent.env(KUBE_EDITOR=_editor(work / "edit-back.py", EDIT_WRITE_BACK)))
    seen = PLACEHOLDER.search(agent.runs["get secret app-creds -o yaml"].out + "".join(
        base64.b64decode(v).decode(errors="replace") for v in re.findall(
            r"password: (\S+)", agent.runs["get secret app-creds -o yaml"].out)))
    store["placeholder seen"] = seen.group(0) if seen else None
    run("create secret from placeholder", "create", "secret", "generic", "reuse", "-n", "dev",
        f"--from-literal=x={store['placeholder seen']}")
    store["after"] = {
        "db-credentials": _secret_data(sandbox, "prod-payments", "db-credentials"),
        "app-creds": _secret_data(sandbox, "dev", "app-creds"),
        "reuse": sandbox.run(lambda: sandbox.store.get("", "secrets", "dev", "reuse"))}
    return store


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, kubectl_bin: str) -> Iterator[Corpus]:
    root = tmp_path_factory.mktemp("corpus")
    (root / "agent" / "tmp").mkdir(parents=True)
    with sandbox_in_thread(SandboxOptions(state_dir=root / "sandbox", seed="demo")) as sandbox:
        admin = sandbox.write_kubeconfig(root / "admin" / "kubeconfig")
        (root / "extra.yaml").write_text(_extra_manifest())
        _admin(kubectl_bin, admin, "apply", "-f", str(root / "extra.yaml"))
        _wait_running(sandbox, "dev", "leaky")
        home = root / "kgate-home"
        proc, err = _start_kgate(admin, root / "agent" / "kubeconfig", home,
                                 root / "kgate.stderr")
        try:
            agent = Agent(kubectl_bin, root / "agent" / "kubeconfig", root / "agent")
            store = _exercise(agent, sandbox, admin, root)
        finally:
            code = _stop_kgate(proc)
            err.close()
        files = {str(p.relative_to(home)): p.read_bytes()
                 for p in sorted(home.rglob("*")) if p.is_file()}
        yield Corpus(sandbox=sandbox, runs=agent.runs,
                     kgate_stderr=(root / "kgate.stderr").read_bytes(), kgate_returncode=code,
                     home_files=files, store=store)


# -- the tests ---------------------------------------------------------------------------------
# Checks go through ``check``/``pytest.fail``, never a bare ``assert`` on a value that could be
# a secret: pytest's assertion rewriting would print both sides of a failed comparison.

def check(ok: object, message: str) -> None:
    if not ok:
        pytest.fail(message, pytrace=False)


def masked(value: object, where: str) -> None:
    check(isinstance(value, str) and PLACEHOLDER.fullmatch(value), f"{where} is not masked")


def masked_b64(value: object, where: str) -> None:
    try:
        decoded = base64.b64decode(str(value), validate=True).decode()
    except ValueError:
        decoded = ""
    check(PLACEHOLDER.fullmatch(decoded), f"{where} is not base64 of a placeholder")


def _doc(run: Run) -> Any:
    check(run.returncode == 0, run.shown())
    return orjson.loads(run.stdout)


def _yaml(run: Run) -> Any:
    check(run.returncode == 0, run.shown())
    return yaml.safe_load(run.stdout)


def test_no_secret_in_anything_kubectl_printed(corpus: Corpus) -> None:
    found = {label: hits for label, run in corpus.runs.items()
             if (hits := leaks(run.stdout + b"\n" + run.stderr))}
    check(not found, f"secret values leaked to the agent: {found}")


def test_exec_of_secrets_the_session_never_read_is_masked(corpus: Corpus) -> None:
    """Bare values with no context: masked because the proxy primes the masker with the pod's
    env and the Secrets it references before relaying exec output."""
    for label in COLD_EXEC:
        run = corpus.runs[label]
        check(run.returncode == 0, run.shown())
        check(PLACEHOLDER.fullmatch(run.out.strip()), f"{label}: output is not one placeholder")


def test_no_secret_in_kgate_stderr_or_home(corpus: Corpus) -> None:
    check(not leaks(corpus.kgate_stderr), f"kgate stderr leaks {leaks(corpus.kgate_stderr)}")
    check(b"Traceback" not in corpus.kgate_stderr, "kgate printed a traceback")
    check(corpus.kgate_returncode == 0, f"kgate proxy exited {corpus.kgate_returncode}")
    check(corpus.home_files, "kgate wrote nothing under KGATE_HOME (is the scan looking?)")
    found = {name: hits for name, data in corpus.home_files.items() if (hits := leaks(data))}
    check(not found, f"files under KGATE_HOME leak: {found}")


def test_the_corpus_ran(corpus: Corpus) -> None:
    """Every read command succeeded (a 502 or a crash would also hide secrets)."""
    refused = {"edit secret write-back", "create secret from placeholder"}
    streams = {"get -w -o json", "get -w", "logs -f"}   # stopped with SIGINT: kubectl exits 1
    failed = [run.shown() for label, run in corpus.runs.items()
              if label not in refused and not (label in streams and not run.stderr)
              and run.returncode != 0]
    check(not failed, "\n".join(failed))
    check(len(corpus.runs) >= 45, f"only {len(corpus.runs)} commands ran")


def test_secrets_keep_keys_type_and_count(corpus: Corpus) -> None:
    listed = _doc(corpus.runs["get secrets -n dev -o json"])["items"]
    in_store = corpus.store["dev secrets"]
    check(sorted(i["metadata"]["name"] for i in listed)
          == sorted(s["metadata"]["name"] for s in in_store), "Secret names/count differ")
    by_name = {s["metadata"]["name"]: s for s in in_store}
    for item in listed:
        name = item["metadata"]["name"]
        real = by_name[name]
        check(sorted(item.get("data") or {}) == sorted(real.get("data") or {}),
              f"{name}: keys differ")
        check(item["type"] == real["type"], f"{name}: type differs")
        for key, value in (item.get("data") or {}).items():
            masked_b64(value, f"{name}/{key}")
    table = corpus.runs["get secrets -A"].out
    for name in ("db-credentials", "app-creds", "registry-pull", "web-tls", "api-token"):
        check(name in table, f"get secrets -A misses {name}")
    check("kubernetes.io/dockerconfigjson" in table, "Secret types missing from the table")


def test_jsonpath_then_base64_decode_gives_placeholder(corpus: Corpus) -> None:
    run = corpus.runs["jsonpath password"]
    check(run.returncode == 0, run.shown())
    masked_b64(run.stdout.strip().decode(), "jsonpath {.data.password} | base64 -d")


def test_equal_values_get_equal_placeholders(corpus: Corpus) -> None:
    """The api deployment's DB_PASSWORD env and db-credentials' password are one value."""
    secret = _yaml(corpus.runs["get secret db-credentials -o yaml"])
    in_secret = base64.b64decode(secret["data"]["password"]).decode()
    api = next(d for d in _yaml(corpus.runs["get deploy -A -o yaml"])["items"]
               if d["metadata"]["name"] == "api")
    env = {e["name"]: e for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    masked(env["DB_PASSWORD"]["value"], "api DB_PASSWORD")
    check(env["DB_PASSWORD"]["value"] == in_secret,
          "same value, different placeholders (Secret data vs env)")


def test_last_applied_annotation_is_masked_inside(corpus: Corpus) -> None:
    secret = _yaml(corpus.runs["get secret app-creds -o yaml"])
    applied = orjson.loads(secret["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"])
    check(sorted(applied["stringData"]) == ["api-key", "password"], "last-applied keys changed")
    for key, value in applied["stringData"].items():
        masked(value, f"last-applied stringData.{key}")
    check(applied["metadata"]["labels"] == {"team": "corpus"}, "last-applied labels changed")
    for key in ("password", "api-key"):
        masked_b64(secret["data"][key], f"app-creds data.{key}")
    pod = _yaml(corpus.runs["get pod leaky -o yaml"])
    inner = orjson.loads(pod["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"])
    env = {e["name"]: e for e in inner["spec"]["containers"][0]["env"]}
    masked(env["DB_PASSWORD"].get("value"), "last-applied pod env DB_PASSWORD")
    check(env["LOG_LEVEL"]["value"] == "warn", "last-applied LOG_LEVEL changed")


def test_non_secret_data_is_unchanged(corpus: Corpus) -> None:
    web = _doc(corpus.runs["get configmap web-config -o json"])
    check(web["data"] == {"LOG_LEVEL": "info", "FEATURE_FLAGS": "search,checkout",
                          "app.properties": "port=8080\ntimeout=30s\n"},
          "web-config data changed")
    cfg = _doc(corpus.runs["get configmap corpus-config -o json"])
    for key, value in PLAIN_CONFIG.items():
        check(cfg["data"].get(key) == value, f"corpus-config {key} changed")
    key_text = cfg["data"]["tls.key"]
    check(key_text.startswith("-----BEGIN RSA PRIVATE KEY-----") and PLACEHOLDER.search(key_text)
          and key_text.rstrip().endswith("-----END RSA PRIVATE KEY-----"),
          "PEM key not masked with its armour kept")
    remote = cfg["data"]["GIT_REMOTE"]
    check(remote.startswith("https://deployer:kgate:masked:")
          and remote.endswith("@git.example.com/org/repo.git"), "URL password not masked in place")
    check(cfg["metadata"]["labels"] == {"team": "corpus"}, "corpus-config labels changed")

    pod = _yaml(corpus.runs["get pod leaky -o yaml"])
    container = pod["spec"]["containers"][0]
    check(container["image"] == "example/leaky:0.1", "pod image changed")
    env = {e["name"]: e for e in container["env"]}
    check(env["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "warn"}, "LOG_LEVEL changed")
    masked(env["DB_PASSWORD"].get("value"), "pod env DB_PASSWORD")
    masked(env["SERVICE_TOKEN"].get("value"), "pod env SERVICE_TOKEN")
    check(env["API_KEY"].get("valueFrom") == {"secretKeyRef": {"name": "app-creds",
                                                                "key": "api-key"}},
          "valueFrom changed")
    check(pod["metadata"]["labels"] == {"app": "leaky"}, "pod labels changed")
    mounts = container["volumeMounts"]
    check({"name": "creds", "mountPath": "/etc/creds", "readOnly": True} in mounts,
          "volume mount changed")

    deployments = _yaml(corpus.runs["get deploy -A -o yaml"])["items"]
    images = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
              for d in deployments}
    check(images == {"web": "nginx:1.27", "api": "example/api:2.3.1",
                     "payments-worker": "example/payments-worker:1.8.0"}, f"images: {images}")
    for d in deployments:
        name = d["metadata"]["name"]
        env = {e["name"]: e for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
        check(env["LOG_LEVEL"].get("value") == {"api": "debug"}.get(name, "info"),
              f"{name} LOG_LEVEL changed")
        check(d["metadata"]["labels"] == {"app": name}, f"{name} labels changed")
        check(d["spec"]["replicas"] == {"web": 2, "api": 1, "payments-worker": 2}[name],
              f"{name} replicas changed")
    pods = _doc(corpus.runs["get pods -A -o json"])["items"]
    check(len(pods) == 6, f"{len(pods)} pods listed, expected 5 from deployments + leaky")


def test_describe_shows_shape_not_values(corpus: Corpus) -> None:
    described = corpus.runs["describe secret"].out
    check("password:" in described and "bytes" in described, "describe secret lost its shape")
    pod = corpus.runs["describe pod leaky"].out
    check("LOG_LEVEL:" in pod and "warn" in pod and "example/leaky:0.1" in pod,
          "describe pod lost plain data")
    check(PLACEHOLDER.search(pod), "describe pod shows no placeholder for DB_PASSWORD")
    check("GIT_REMOTE" in corpus.runs["describe configmap"].out, "describe configmap lost keys")
    check("DB_PASSWORD" in corpus.runs["describe deploy api"].out, "describe deploy lost env")


def test_logs_and_exec_show_text_with_credentials_masked(corpus: Corpus) -> None:
    log = corpus.runs["logs leaky"].out
    check("leaky starting" in log and "LOG_LEVEL=warn ready" in log, "plain log lines changed")
    check(re.search(r"password=kgate:masked:[0-9a-f]{8}", log), "password= lost its key")
    check(re.search(r"gitlab token kgate:masked:[0-9a-f]{8}", log), "gitlab token not masked")
    web = corpus.runs["logs deploy/web"].out
    check("API_TOKEN=kgate:masked:" in web and "LOG_LEVEL=info" in web,
          "web log: API_TOKEN key lost or plain line changed")
    api = corpus.runs["logs deploy/api"].out
    # The whole URL is also db-credentials' ``url`` value, read earlier: masked whole.
    check(re.search(r"connecting to (postgres://payments:)?kgate:masked:[0-9a-f]{8}", api),
          "api log: URL not masked")
    check("stripe key kgate:masked:" in corpus.runs["logs payments-worker"].out,
          "worker log: stripe key not masked in place")
    env = corpus.runs["exec env"].out
    check("LOG_LEVEL=warn" in env and "HOSTNAME=leaky" in env, "exec env lost plain values")
    check(re.search(r"^DB_PASSWORD=kgate:masked:[0-9a-f]{8}$", env, re.M),
          "exec env: DB_PASSWORD not masked in place")
    for label in ("exec cat secret file", "exec cat api-key file", "exec sh echo"):
        check(PLACEHOLDER.fullmatch(corpus.runs[label].out.strip()),
              f"{label}: output is not one placeholder")
    check(corpus.runs["exec sh echo api key"].out.startswith("key is kgate:masked:"),
          "exec sh echo: text around the value changed")


def test_streams_show_data_while_open(corpus: Corpus) -> None:
    notes = corpus.runs["streams"].notes
    late = [name for name, arrived in notes.items() if not arrived]
    check(not late, f"not seen while the command was still running: {late}")
    watched = corpus.runs["get -w -o json"].out
    check('"rotated": "yes"' in watched, "watch -o json missed the update")
    check(watched.count('"kind": "Secret"') >= 5, "watch -o json: too few events")
    check(corpus.runs["get -w"].out.count("app-creds") >= 2, "table watch missed the update")
    follow = corpus.runs["logs -f"].out
    check("heartbeat n=" in follow and re.search(r"password=kgate:masked:", follow),
          "logs -f: no masked line or no heartbeat")
    rotated = _yaml(corpus.runs["get secret app-creds after rotation"])
    masked_b64(rotated["data"]["password"], "app-creds password after rotation")


def test_writes_without_placeholders_work(corpus: Corpus) -> None:
    edit = corpus.runs["edit configmap label"]
    check(edit.returncode == 0, edit.shown())
    after = _doc(corpus.runs["get configmap after edit"])
    check(after["metadata"]["labels"] == {"team": "edited"}, "edited label not shown")
    real = corpus.store["corpus-config after edit"]
    check(real["metadata"]["labels"] == {"team": "edited"}, "edited label not stored")
    check(real["data"]["tls.key"] == RSA_KEY_PEM, "edit overwrote the real key")
    check(URL_PASSWORD in real["data"]["GIT_REMOTE"], "edit overwrote the real URL")
    check(corpus.runs["apply"].returncode == 0, corpus.runs["apply"].shown())
    applied = _doc(corpus.runs["get after apply"])["items"]
    config = next(i for i in applied if i["kind"] == "ConfigMap")
    check(config["data"] == {"greeting": "hello", "retries": "3"}, "applied data changed")
    check(config["metadata"]["labels"] == {"owner": "agent"}, "applied labels changed")
    secret = next(i for i in applied if i["kind"] == "Secret")
    masked_b64(secret["data"]["password"], "agent-secret password")


def test_placeholder_write_backs_are_refused(corpus: Corpus) -> None:
    # Replacing a Secret with what was read writes each placeholder back to the slot it was
    # issued for (same key, same namespace): restored to the real value, nothing overwritten.
    check(corpus.runs["replace -f -"].returncode == 0, corpus.runs["replace -f -"].shown())
    for label in ("create secret from placeholder",):
        run = corpus.runs[label]
        check(run.returncode != 0, f"{label} was not refused")
        check("masked placeholder" in run.err, run.shown())
    # kubectl edit prints only 'secrets "app-creds" is invalid' for a 422 without causes.
    edit = corpus.runs["edit secret write-back"]
    check(edit.returncode != 0 and "is invalid" in edit.err, edit.shown())
    check(corpus.store["placeholder seen"], "no placeholder was seen to write back")
    before, after = corpus.store["before"], corpus.store["after"]
    check(after["db-credentials"] == before["db-credentials"], "replace changed db-credentials")
    check(sorted(after["app-creds"]) == sorted(before["app-creds"]), "edit changed keys")
    # The watch test rotated the password on the cluster side; api-key must be untouched.
    check(after["app-creds"]["api-key"] == before["app-creds"]["api-key"],
          "edit wrote a placeholder into api-key")
    check(base64.b64decode(after["app-creds"]["password"]).decode() == WATCH_PASSWORD,
          "app-creds password is not the rotated value")
    check(after["reuse"] is None, "a Secret was created from a placeholder")
