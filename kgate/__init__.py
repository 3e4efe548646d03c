"""kgate: a local credential broker between an AI agent and Kubernetes.

Building blocks (dependencies point one way, left to right):

    cli ─► proxy ─► grants / audit / auth ─► policy ─► errors / config

* ``kgate.sandbox`` — an in-memory, wire-faithful Kubernetes API server for tests and demos.
* ``kgate.proxy``   — the loopback HTTPS proxy the agent talks to (authn → parse → scope →
  policy → body checks → forward → mask → audit).
* ``kgate.pki``     — the loopback CA and server certificates both servers use.
* ``kgate.kubeconfig`` — reading the user's kubeconfig, writing the agent's.
"""

__version__ = "0.1.0"
