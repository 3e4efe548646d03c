"""The lean I/O engine: asyncio Protocols on llhttp (``httptools``) and stdlib TLS.

It implements the ``Downstream`` (agent side) and ``Upstream`` (API-server side) protocols of
``kgate/proxy/engine.py``; nothing in here decides anything — the pipeline does.
"""
