"""A kgate proxy in its own process with the session log off, for the bench's "log off" targets.

``kgate proxy`` has no switch for the session log (it is always on for a user); the bench needs
the same proxy without it to show what the log costs. This runs ``start_proxy`` with what
``kgate proxy --no-grant`` passes (the policy from ``$KGATE_HOME``/built-in default, the
kubeconfig's credential) and ``ProxyOptions.session_log=False``, on the same loop and allocator
settings as ``kgate proxy`` (``lean.runtime.serving``: uvloop unless ``KGATE_LOOP=asyncio``).

Run: ``python -m bench.kgate_serve UPSTREAM_KUBECONFIG AGENT_KUBECONFIG_OUT`` (SIGTERM stops it).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path


async def _serve(upstream: Path, out: Path) -> None:
    from kgate.policy import load_policy
    from kgate.proxy.runner import ProxyOptions, start_proxy
    from kgate.upstream_config import load_upstream

    proxy = await start_proxy(ProxyOptions(upstream=load_upstream(upstream),
                                           policy=load_policy(None), session_log=False))
    try:
        proxy.write_kubeconfig(out)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    finally:
        out.unlink(missing_ok=True)
        await proxy.stop()


if __name__ == "__main__":
    from kgate.proxy.lean.runtime import serving

    serving(_serve(Path(sys.argv[1]), Path(sys.argv[2])))
