"""The tamper-evident session log: what the agent did, and proof nobody edited the record.

* ``chain``     — the canonical one-line encoding of a record and the sha256 hash chain.
* ``signing``   — the installation's Ed25519 key (``KeyStore``; a 0600 file until the keyring
  store lands), signatures on checkpoint and end records.
* ``writer``    — ``SessionLog``: a writer thread fed by a queue (never blocks the event loop),
  batched fsync, periodic signed checkpoints, fail-closed state when the disk refuses writes.
* ``recording`` — exec/attach streams as asciicast v2 files, and replaying them.
* ``verify``    — walking a log: edited, removed, inserted, reordered or truncated records.
* ``index``     — the SQLite index in ``kgate.db`` (sessions, requests, remembered seals).
* ``export``    — reading records back; ``audit.k8s.io/v1`` EventList for a SIEM.

Nothing here imports the proxy: the proxy's audit stage (``kgate.proxy.stages.audit``) turns an
exchange into a record and hands it to ``SessionLog``. Values are never logged: request bodies
arrive already masked, and only counts of masked values are recorded.
"""
