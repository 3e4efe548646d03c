"""The mask stage is a real seam: a masker plugged into the pipeline sees every shape
(whole JSON bodies, watch streams, log streams, exec frames, request bodies), and when it fails
nothing unmasked reaches the agent.

``WordMasker`` is a deliberately tiny masker (it replaces one word) used only to prove the wiring;
the real masking engine lives in ``kgate.proxy.masking``.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from kgate.proxy.attributes import RequestAttributes
from kgate.proxy.errors import BodyRefused, MaskingFailed
from kgate.proxy.stages.masking import FrameMasker, StreamMasker
from kgate.upstream_config import load_upstream
from tests.fixtures.kube import KubectlRunner, popen_kubectl
from tests.fixtures.proxy import Proxied, start_proxy_thread

WORD, HIDDEN = b"hunter2", b"*******"
B64_WORD, B64_HIDDEN = base64.b64encode(WORD), base64.b64encode(HIDDEN)


def _hide(data: bytes) -> bytes:
    return data.replace(WORD, HIDDEN).replace(B64_WORD, B64_HIDDEN)


class _Lines:
    """Masks complete lines; keeps a partial line until the next chunk or the flush."""

    def __init__(self) -> None:
        self._pending = b""
        self.masked = 0

    def feed(self, chunk: bytes) -> bytes:
        data = self._pending + chunk
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        return _hide(data[:cut])

    def flush(self) -> bytes:
        tail, self._pending = self._pending, b""
        return _hide(tail)


class _Frames:
    def __init__(self) -> None:
        self.lines = {1: _Lines(), 2: _Lines()}
        self.masked = 0

    def feed(self, channel: int, payload: bytes) -> list[tuple[int, bytes]]:
        if channel not in self.lines:
            return [*self.flush(), (channel, payload)]
        return [(channel, self.lines[channel].feed(payload))]

    def flush(self) -> list[tuple[int, bytes]]:
        return [(c, tail) for c, lines in self.lines.items() if (tail := lines.flush())]


class WordMasker:
    def __init__(self) -> None:
        self.learned: list[bytes] = []
        self.primed = self.released = 0

    def mask_body(self, attrs: RequestAttributes, body: bytes) -> tuple[bytes, int]:
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError as err:
            raise MaskingFailed("not JSON") from err
        return _hide(body), body.count(WORD) + body.count(B64_WORD)

    def watch_stream(self, attrs: RequestAttributes) -> StreamMasker:
        return _Lines()

    def text_stream(self, attrs: RequestAttributes) -> StreamMasker:
        return _Lines()

    def exec_frames(self, attrs: RequestAttributes) -> FrameMasker | None:
        return _Frames()

    def check(self, attrs: RequestAttributes, content_type: str, body: bytes,
              facts: object = None) -> None:
        if HIDDEN in body or B64_HIDDEN in body:
            raise BodyRefused([], "the body writes a masked value back; kgate refuses to "
                                  "store placeholders")

    def log_copy(self, attrs: RequestAttributes, content_type: str, body: bytes,
                 facts: object = None) -> bytes:
        return _hide(body)

    def learn(self, body: bytes) -> None:
        self.learned.append(body)

    def prime(self, pod: object, secrets: list[object]) -> WordMasker:
        self.primed += 1
        return self

    def release(self) -> None:
        self.released += 1


class BrokenMasker(WordMasker):
    def mask_body(self, attrs: RequestAttributes, body: bytes) -> tuple[bytes, int]:
        raise MaskingFailed("cannot parse this reply")


@pytest.fixture
def masked(proxied: Proxied, tmp_path: Path) -> Iterator[tuple[Path, Proxied]]:
    masker = WordMasker()
    thread, proxy, _ = start_proxy_thread(proxied.upstream_kubeconfig, proxied.home,
                                          masker=masker, body_check=masker)
    try:
        kubeconfig = proxy.write_kubeconfig(tmp_path / "masked" / "kubeconfig")
        _MASKERS[kubeconfig] = masker
        yield kubeconfig, proxied
    finally:
        _MASKERS.pop(tmp_path / "masked" / "kubeconfig", None)
        thread.stop()


_MASKERS: dict[Path, WordMasker] = {}


def proxied_masker(kubeconfig: Path) -> WordMasker:
    """The toy masker behind the proxy that ``kubeconfig`` points at."""
    return _MASKERS[kubeconfig]


POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: talker
  namespace: default
  annotations: {sandbox.kgate.dev/log: "password=hunter2"}
spec:
  containers: [{name: app, image: busybox}]
"""


def test_json_bodies_are_masked(masked: tuple[Path, Proxied], kubectl: KubectlRunner) -> None:
    kc, proxied = masked
    kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter2",
            kubeconfig=kc)
    one = json.loads(kubectl("get", "secret", "db", "-o", "json", kubeconfig=kc).stdout)
    assert base64.b64decode(one["data"]["password"]) == HIDDEN
    listed = kubectl("get", "secrets", "-o", "yaml", kubeconfig=kc).stdout
    assert B64_WORD.decode() not in listed and B64_HIDDEN.decode() in listed
    # Masking is per reply: what the sandbox stores is still the real value.
    stored = proxied.sandbox.run(lambda: proxied.sandbox.store.get("", "secrets", "default", "db"))
    assert base64.b64decode(stored["data"]["password"]) == WORD


@pytest.mark.timeout(60)
def test_watch_logs_and_exec_are_masked(masked: tuple[Path, Proxied], kubectl: KubectlRunner,
                                        kubectl_bin: str, tmp_path: Path) -> None:
    kc, _ = masked
    kubectl("create", "secret", "generic", "w", "--from-literal=p=hunter2", kubeconfig=kc)
    proc = popen_kubectl(kubectl_bin, ["get", "secret", "w", "-w", "-o", "json"], kc, tmp_path)
    try:
        assert proc.stdout is not None
        first = ""
        while not first.rstrip().endswith("}") or first.count("{") != first.count("}"):
            first += proc.stdout.readline()  # one pretty-printed object; bounded by the timeout
        assert json.loads(first)["data"]["p"] == B64_HIDDEN.decode()
    finally:
        proc.kill()
        proc.wait(10)
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD)
    kubectl("apply", "-f", str(manifest), kubeconfig=kc)
    kubectl("wait", "--for=condition=Ready", "pod/talker", "--timeout=20s", kubeconfig=kc)
    assert kubectl("logs", "talker", kubeconfig=kc).stdout == "password=*******\n"
    said = kubectl("exec", "talker", "--", "echo", "the password is hunter2", kubeconfig=kc)
    assert said.stdout == "the password is *******\n"
    no_newline = kubectl("exec", "talker", "--", "echo", "-n", "hunter2", kubeconfig=kc)
    assert no_newline.stdout == "*******"  # flushed at close
    # logs and each exec were primed, and every priming was released when its stream ended
    masker = proxied_masker(kc)
    assert masker.primed == 3 and masker.released == 3


def test_placeholder_write_back_is_422(masked: tuple[Path, Proxied],
                                       kubectl: KubectlRunner) -> None:
    kc, _ = masked
    proc = kubectl("create", "configmap", "c", "--from-literal=k=*******", kubeconfig=kc,
                   check=False)
    assert proc.returncode != 0
    assert "failed to create configmap: kgate: the body writes a masked value" in proc.stderr


def test_unmaskable_reply_is_502_and_never_passed(proxied: Proxied, kubectl: KubectlRunner,
                                                  tmp_path: Path) -> None:
    kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter2",
            kubeconfig=proxied.kubeconfig)
    thread, proxy, _ = start_proxy_thread(proxied.upstream_kubeconfig, proxied.home,
                                          masker=BrokenMasker())
    try:
        kc = proxy.write_kubeconfig(tmp_path / "broken" / "kubeconfig")
        proc = kubectl("get", "secret", "db", "-o", "json", kubeconfig=kc, check=False)
        assert proc.returncode != 0
        assert "(BadGateway): kgate: could not mask the reply for secrets" in proc.stderr
        assert B64_WORD.decode() not in proc.stdout + proc.stderr
        # Discovery and /version are not masked, so kubectl still works for them.
        assert kubectl("version", "-o", "json", kubeconfig=kc).returncode == 0
    finally:
        thread.stop()


def test_exec_over_an_unknown_upgrade_is_refused(masked: tuple[Path, Proxied]) -> None:
    kc, proxied = masked
    agent = load_upstream(kc)
    assert agent.ca_pem is not None
    host, port = agent.host_port
    trust = ssl.create_default_context(cadata=agent.ca_pem.decode())
    conn = http.client.HTTPSConnection(host, port, timeout=10, context=trust)
    conn.request("POST", "/api/v1/namespaces/default/pods/talker/exec?command=ls&stdout=true",
                 headers={"Authorization": f"Bearer {agent.token}",
                          "Connection": "Upgrade", "Upgrade": "mystery/1",
                          "X-Stream-Protocol-Version": "v4.channel.k8s.io"})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert resp.status == 403 and "over mystery/1 cannot be masked" in body["message"]
