"""Pod logs, exec/attach and port-forward, driven by real kubectl 1.32 over real TLS.

Until the sandbox core serves these routes, a minimal loopback app mounts the handlers of
``kgate.sandbox.streams`` behind just enough of the API (``/version``, discovery, pod GET/DELETE)
for kubectl to reach them.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from kgate.kubeconfig import write_kubeconfig
from kgate.pki import issue_server_identity
from kgate.sandbox import streams
from tests.fixtures.kube import KubectlRunner, popen_kubectl

DISCOVERY = Path(__file__).resolve().parents[2] / "kgate" / "sandbox" / "data"
TOKEN = "streams-test-token"


def _pod(name: str, containers: list[dict[str, Any]], annotations: dict[str, str] | None = None,
         volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "resourceVersion": "1", "creationTimestamp": "2024-01-01T00:00:00Z",
                         "annotations": annotations or {}},
            "spec": {"containers": containers, "volumes": volumes or []},
            "status": {"phase": "Running", "podIP": "10.0.0.7"}}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class MiniServer:
    """Objects the handlers see: ``objects[(plural, namespace, name)]``."""

    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    loop: asyncio.AbstractEventLoop | None = None

    def lookup(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.objects.get((plural, namespace, name))
        return orjson.loads(orjson.dumps(obj)) if obj else None

    def delete(self, plural: str, namespace: str, name: str) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.objects.pop, (plural, namespace, name), None)

    def app(self) -> web.Application:
        resources = orjson.loads((DISCOVERY / "api-resources.json").read_bytes())
        core = next(r for r in resources if r["groupVersion"] == "v1")

        def json(obj: Any, status: int = 200) -> web.Response:
            return web.Response(status=status, body=orjson.dumps(obj),
                                content_type="application/json")

        @web.middleware
        async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return json({"kind": "Status", "code": 401}, 401)
            resp: web.StreamResponse = await handler(request)
            return resp

        async def version(_: web.Request) -> web.Response:
            return json({"major": "1", "minor": "32", "gitVersion": "v1.32.0"})

        async def api(_: web.Request) -> web.Response:
            return json({"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                         "serverAddress": "127.0.0.1"}]})

        async def apis(_: web.Request) -> web.Response:
            return json({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})

        async def api_v1(_: web.Request) -> web.Response:
            return json(core)

        def pod_of(request: web.Request) -> dict[str, Any] | None:
            return self.lookup("pods", request.match_info["ns"], request.match_info["name"])

        def not_found(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            return json({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                         "message": f'pods "{name}" not found', "reason": "NotFound",
                         "code": 404, "details": {"name": name, "kind": "pods"}}, 404)

        async def get_pod(request: web.Request) -> web.Response:
            pod = pod_of(request)
            return json(pod) if pod else not_found(request)

        async def sub(request: web.Request) -> web.StreamResponse:
            pod = pod_of(request)
            if pod is None:
                return not_found(request)
            kind = request.match_info["sub"]
            if kind == "log":
                return await streams.serve_pod_log(request, pod, lambda: pod_of(request))
            if kind in ("exec", "attach"):
                return await streams.serve_pod_exec(request, pod, self.lookup,
                                                    attach=kind == "attach")
            if kind == "portforward":
                return await streams.serve_pod_portforward(request, pod)
            return not_found(request)

        app = web.Application(middlewares=[auth])
        app.router.add_get("/version", version)
        app.router.add_get("/api", api)
        app.router.add_get("/apis", apis)
        app.router.add_get("/api/v1", api_v1)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}", get_pod)
        app.router.add_route("*", "/api/v1/namespaces/{ns}/pods/{name}/{sub}", sub)
        return app


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MiniServer, Path]]:
    """The handlers on a loopback HTTPS app in a background thread, plus a kubeconfig for it."""
    base = tmp_path_factory.mktemp("streams")
    ident = issue_server_identity(base / "pki")
    server = MiniServer()
    loop = asyncio.new_event_loop()
    server.loop = loop
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(server.app(), shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ident.server_context(base / "tls"))
        await site.start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(20)
    kubeconfig = write_kubeconfig(base / "kube" / "config", server=f"https://127.0.0.1:"
                                  f"{holder['port']}", ca_pem=ident.ca_pem, token=TOKEN,
                                  namespace="default")
    _seed(server)
    yield server, kubeconfig
    asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _seed(server: MiniServer) -> None:
    objs = server.objects
    objs[("secrets", "default", "db")] = {
        "kind": "Secret", "metadata": {"name": "db", "namespace": "default"},
        "data": {"password": _b64("dummy-pw\n"), "user": _b64("app")}}
    objs[("configmaps", "default", "cfg")] = {
        "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"},
        "data": {"mode": "fast", "greeting": "hello"}}
    app = {"name": "app", "image": "busybox:1.36",
           "env": [{"name": "PLAIN", "value": "x"},
                   {"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": "db",
                                                                      "key": "user"}}},
                   {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath":
                                                                "metadata.namespace"}}}],
           "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}],
           "volumeMounts": [{"name": "creds", "mountPath": "/etc/secret", "readOnly": True},
                            {"name": "conf", "mountPath": "/etc/conf"}]}
    volumes = [{"name": "creds", "secret": {"secretName": "db"}},
               {"name": "conf", "configMap": {"name": "cfg"}}]
    objs[("pods", "default", "web")] = _pod(
        "web", [app], {"sandbox.kgate.dev/log": "line one\nline two\nline three"}, volumes)
    objs[("pods", "default", "duo")] = _pod(
        "duo", [{"name": "main", "image": "nginx:1.27"}, {"name": "side", "image": "envoy:1"}],
        {"sandbox.kgate.dev/log.side": "side says hi"})


def _beating(server: MiniServer, name: str) -> None:
    server.objects[("pods", "default", name)] = _pod(
        name, [{"name": "c", "image": "busybox"}],
        {"sandbox.kgate.dev/log": "booted", "sandbox.kgate.dev/log-every": "200ms"})


# --- logs -------------------------------------------------------------------------------------

def test_logs_and_tail(mini: tuple[MiniServer, Path], kubectl: KubectlRunner) -> None:
    _, kc = mini
    assert kubectl("logs", "web", kubeconfig=kc).stdout == "line one\nline two\nline three\n"
    assert kubectl("logs", "web", "--tail=1", kubeconfig=kc).stdout == "line three\n"
    stamped = kubectl("logs", "web", "--timestamps", kubeconfig=kc).stdout.splitlines()
    assert stamped[0].startswith("2024-01-01T00:00:00.") and stamped[0].endswith(" line one")
    assert kubectl("logs", "web", "--limit-bytes=6", kubeconfig=kc).stdout == "line o"


def test_logs_multi_container(mini: tuple[MiniServer, Path], kubectl: KubectlRunner) -> None:
    _, kc = mini
    defaulted = kubectl("logs", "duo", kubeconfig=kc)      # kubectl picks the first itself
    assert 'Defaulted container "main" out of: main, side' in defaulted.stderr
    proc = kubectl("get", "--raw", "/api/v1/namespaces/default/pods/duo/log", kubeconfig=kc,
                   check=False)
    assert proc.returncode != 0
    assert "a container name must be specified for pod duo, choose one of: [main side]" \
        in proc.stderr
    assert kubectl("logs", "duo", "-c", "side", kubeconfig=kc).stdout == "side says hi\n"
    main = kubectl("logs", "duo", "-c", "main", kubeconfig=kc).stdout
    assert "starting main (image nginx:1.27)" in main
    prev = kubectl("logs", "web", "--previous", kubeconfig=kc, check=False)
    assert prev.returncode != 0 and "previous terminated container" in prev.stderr


def test_logs_follow_streams_until_pod_deleted(mini: tuple[MiniServer, Path],
                                               kubectl_bin: str, tmp_path: Path) -> None:
    server, kc = mini
    _beating(server, "ticker")
    proc = popen_kubectl(kubectl_bin, ["logs", "-f", "ticker"], kc, tmp_path)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "booted\n"
        beat = proc.stdout.readline()
        assert beat.rstrip().endswith("heartbeat n=1"), beat
        assert proc.poll() is None          # still streaming: the line came before the end
        server.delete("pods", "default", "ticker")
        proc.wait(timeout=20)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


# --- exec -------------------------------------------------------------------------------------

def test_exec_echo_and_exit_codes(mini: tuple[MiniServer, Path], kubectl: KubectlRunner) -> None:
    _, kc = mini
    assert kubectl("exec", "web", "--", "echo", "hi", kubeconfig=kc).stdout == "hi\n"
    three = kubectl("exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3",
                    kubeconfig=kc, check=False)
    assert three.returncode == 3
    assert "command terminated with exit code 3" in three.stderr
    ok = kubectl("exec", "web", "--", "sh", "-c", "false || echo \"recovered $?\" && true",
                 kubeconfig=kc)
    assert ok.stdout == "recovered 1\n"


def test_exec_stdin(mini: tuple[MiniServer, Path], kubectl: KubectlRunner) -> None:
    _, kc = mini
    assert kubectl("exec", "-i", "web", "--", "cat", kubeconfig=kc, input="hi\n").stdout == "hi\n"
    counted = kubectl("exec", "-i", "web", "--", "sh", "-c", "grep -v b | wc -l",
                      kubeconfig=kc, input="a\nb\nc\n")
    assert counted.stdout == "2\n"


def test_exec_unknown_command(mini: tuple[MiniServer, Path], kubectl: KubectlRunner) -> None:
    _, kc = mini
    proc = kubectl("exec", "web", "--", "nosuchtool", "--help", kubeconfig=kc, check=False)
    assert proc.returncode == 127
    assert 'exec: "nosuchtool": executable file not found in $PATH' in proc.stderr


def test_exec_reads_mounted_secret_and_env(mini: tuple[MiniServer, Path],
                                           kubectl: KubectlRunner) -> None:
    _, kc = mini
    assert kubectl("exec", "web", "--", "cat", "/etc/secret/password",
                   kubeconfig=kc).stdout == "dummy-pw\n"
    assert kubectl("exec", "web", "--", "ls", "/etc/secret", kubeconfig=kc).stdout == \
        "password\nuser\n"
    assert kubectl("exec", "web", "--", "cat", "/etc/conf/mode", kubeconfig=kc).stdout == "fast"
    env = kubectl("exec", "web", "--", "env", kubeconfig=kc).stdout.splitlines()
    for line in ("PLAIN=x", "DB_USER=app", "MY_NS=default", "CFG_mode=fast", "HOSTNAME=web"):
        assert line in env
    assert kubectl("exec", "web", "--", "printenv", "DB_USER", kubeconfig=kc).stdout == "app\n"
    missing = kubectl("exec", "web", "--", "cat", "/etc/secret/nope", kubeconfig=kc, check=False)
    assert missing.returncode == 1 and "No such file or directory" in missing.stderr


def test_exec_container_errors(mini: tuple[MiniServer, Path], kubectl: KubectlRunner) -> None:
    _, kc = mini
    proc = kubectl("exec", "web", "-c", "ghost", "--", "true", kubeconfig=kc, check=False)
    assert proc.returncode != 0 and "container ghost is not valid for pod web" in proc.stderr


def test_attach_streams_heartbeats(mini: tuple[MiniServer, Path], kubectl_bin: str,
                                   tmp_path: Path) -> None:
    server, kc = mini
    _beating(server, "attached")
    proc = popen_kubectl(kubectl_bin, ["attach", "attached"], kc, tmp_path)
    try:
        assert proc.stdout is not None
        assert "heartbeat n=1" in proc.stdout.readline()
        server.delete("pods", "default", "attached")
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_port_forward_is_refused_clearly(mini: tuple[MiniServer, Path],
                                         kubectl: KubectlRunner) -> None:
    _, kc = mini
    try:
        proc = kubectl("port-forward", "pod/web", "18080:80", kubeconfig=kc, check=False,
                       timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("kubectl port-forward hung instead of failing")
    assert proc.returncode != 0
    assert "does not support port-forward" in proc.stderr
