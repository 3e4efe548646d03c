"""A bare aiohttp HTTPS pass-through proxy: the floor kgate's proxy is measured against.

No authentication of the caller, no parsing, no masking: it swaps the caller's token for the
upstream one and streams the body back. DESIGN.md's performance facts say this floor alone adds
about 2x what ``kubectl proxy`` adds; kgate's goal for issue 3 is to stay within 1.25x of it.

Run: ``python -m bench.passthrough KUBECONFIG STATE_DIR`` → prints ``ready https://127.0.0.1:PORT``.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from pathlib import Path

from aiohttp import ClientSession, TCPConnector, web

from kgate.pki import issue_server_identity
from kgate.upstream_config import load_upstream

_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-authorization",
        "authorization", "host", "content-length"}


def read_endpoint(kubeconfig: Path) -> tuple[str, str, ssl.SSLContext]:
    """Server URL, bearer token and a trusting SSL context from a kgate-written kubeconfig."""
    settings = load_upstream(kubeconfig)
    if settings.token is None or settings.ca_pem is None:
        raise SystemExit(f"{kubeconfig}: expected a token and CA data")
    return (settings.server, settings.token,
            ssl.create_default_context(cadata=settings.ca_pem.decode()))


async def main(kubeconfig: Path, state: Path) -> None:
    server, token, client_ctx = read_endpoint(kubeconfig)
    session = ClientSession(connector=TCPConnector(ssl=client_ctx, limit=0), auto_decompress=False)

    async def handle(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        headers["Authorization"] = f"Bearer {token}"
        body = await request.read() if request.can_read_body else None
        async with session.request(request.method, server + request.rel_url.raw_path_qs,
                                   headers=headers, data=body) as up:
            resp = web.StreamResponse(status=up.status, headers={
                k: v for k, v in up.headers.items() if k.lower() not in _HOP})
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ident = issue_server_identity(state)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ident.server_context(state / "srv"))
    await site.start()
    port = runner.addresses[0][1]
    print(f"ready https://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
    except KeyboardInterrupt:
        pass
