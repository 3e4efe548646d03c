"""kgate's OIDC client: who the human is, proven by their identity provider.

- ``settings``  the ``[oidc]`` table of config.toml (issuer, client id, scopes, CA file)
- ``provider``  discovery and JWKS over HTTPS (network)
- ``idtoken``   ID-token validation: signature against the JWKS (refetched on an unknown
                ``kid``), then pure claim checks (iss, aud, exp, iat, nonce, auth_time)
- ``client``    authlib: PKCE authorization URL, code exchange, refresh, device flow, revocation
- ``loopback``  the ``http://127.0.0.1:PORT/callback`` redirect listener (RFC 8252)
- ``flows``     browser and device logins, and committing one without half-writes
- ``store``     tokens in the OS keyring, or an explicit 0600 file (``KGATE_TOKEN_STORE``)
- ``current``   the current login, re-validated when used and refreshed silently
- ``identity``  ``OidcIdentity`` / ``current_identity``: what grants and approvals record
- ``stepup``    ``require_recent_login`` / ``step_up``: a recent sign-in for approvals

Only ``provider``, ``client`` and ``loopback`` do I/O on the network; the CLI lives in
``kgate/cli/login.py`` and the proxy's OIDC upstream credential in ``kgate/proxy/oidc_auth.py``.
"""
