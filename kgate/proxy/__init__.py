"""The kgate proxy: a loopback HTTPS server between the agent's kubectl and the API server.

An *exchange* is one request from the agent and its reply (or one upgraded exec/attach/
port-forward connection). ``pipeline.Pipeline.handle`` passes it through the stages in one fixed
order: authenticate the session token → parse request attributes (``attributes``) → read and
inspect the body → grant scope → policy (allow, deny, or review: ``review`` holds the call until a
human decides) → forward upstream with the broker's credential → mask the reply → audit the
``session.Exchange`` record. Stages live in ``stages/`` and say no by raising ``errors.Refusal``
(a Kubernetes Status with a ``kgate:`` message); policy decisions come from ``kgate.policy`` over
the facts ``facts`` gathers, and held calls wait in ``review``. Only the I/O engines do socket
I/O, behind the protocols in ``engine``: ``lean/`` (asyncio Protocols on llhttp, stdlib TLS),
with ``channels`` (exec/attach framing) and ``spdy`` (SPDY/3.1 exec filtering) as its pure
helpers. Decisions and masking are pure. ``runner`` starts and stops a run.
"""
