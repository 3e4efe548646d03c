"""Record the raw protobuf request bodies kubectl 1.32 sends (how the golden ``*.pb`` were made).

Run ``python -m tests.sandbox.data.capture OUTDIR`` and drive kubectl at the kubeconfig it writes
(``OUTDIR/kubeconfig``). Every POST body is saved as ``OUTDIR/<n>-<resource>.pb``; the server
answers with a minimal JSON object so kubectl prints ``<kind>/<name> created``. Use dummy values
only: the captures are committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from aiohttp import web

from kgate.kubeconfig import write_kubeconfig
from kgate.pki import issue_server_identity
from kgate.protowire import peek_metadata, read_envelope


def build_app(outdir: Path) -> web.Application:
    """An app that serves /version and minimal discovery and records POST bodies."""
    counter = [0]

    async def version(_: web.Request) -> web.Response:
        return web.json_response({"major": "1", "minor": "32", "gitVersion": "v1.32.0"})

    async def record(request: web.Request) -> web.Response:
        body = await request.read()
        counter[0] += 1
        resource = request.path.rstrip("/").rsplit("/", 1)[-1]
        (outdir / f"{counter[0]:02d}-{resource}.pb").write_bytes(body)
        env = read_envelope(body)
        ref = peek_metadata(env.raw)
        obj = {"apiVersion": env.api_version, "kind": env.kind,
               "metadata": {"name": ref.name, "namespace": ref.namespace}}
        return web.Response(status=201, body=orjson.dumps(obj), content_type="application/json")

    app = web.Application()
    app.router.add_get("/version", version)
    app.router.add_post("/{tail:.*}", record)
    return app


def main() -> None:
    outdir = Path(sys.argv[1]).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    ident = issue_server_identity(outdir / "pki")
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 18443
    write_kubeconfig(outdir / "kubeconfig", server=f"https://127.0.0.1:{port}",
                     ca_pem=ident.ca_pem, token="capture", namespace="default")
    web.run_app(build_app(outdir), host="127.0.0.1", port=port,
                ssl_context=ident.server_context(outdir / "pki"))


if __name__ == "__main__":
    main()
