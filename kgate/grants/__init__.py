"""Grants: access a human approved — some namespaces, verbs and resources, for a while.

The building blocks, one job each: ``model`` (the ``Grant`` and its lifecycle, expiry derived from
the clock), ``durations`` (Go-style TTLs), ``rules`` (``GrantRules``: the policy's ``approvers``,
``allowSelfApproval`` and ``grants:`` keys), ``request`` (validating ``kgate request`` before
anything is stored), ``discovery`` (what the target cluster serves), ``coverage`` (pure: does a
grant cover a call), ``store`` (the ``GrantStore`` protocol and its SQLite implementation),
``identity`` (who acts: ``local:<user>`` now, OIDC later), ``agents`` (session agent PIDs),
``approval`` (who may decide, for every inbox kind) and ``inbox`` (the human's single inbox,
generic over grants and held requests). The proxy enforces grants in
``kgate.proxy.stages.scope``; only ``store``/``agents`` touch SQLite, nothing here opens sockets
(``discovery`` is handed its fetch).
"""
