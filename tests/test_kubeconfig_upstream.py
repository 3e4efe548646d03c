"""Reading the user's kubeconfig into upstream settings and run-time credentials."""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kgate.errors import AuthError, ConfigError
from kgate.pki import issue_server_identity
from kgate.proxy.credentials import Credentials
from kgate.upstream_config import load_upstream


def write_config(path: Path, user: dict[str, Any], cluster: dict[str, Any] | None = None,
                 context: str = "work") -> Path:
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "c", "cluster": cluster or {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}},
                     {"name": "other", "context": {"cluster": "c", "user": "u"}}],
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def test_static_token_and_context(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config", {"token": "t0k"})
    settings = load_upstream(cfg)
    assert settings.server == "https://127.0.0.1:6443"
    assert settings.context == "work"
    assert load_upstream(cfg, "other").context == "other"
    assert "t0k" not in repr(settings)
    assert asyncio.run(Credentials(settings).authorization()) == "Bearer t0k"


def test_kubeconfig_env_and_missing_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    cfg = write_config(tmp_path / "config", {"token": "x"})
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}{os.pathsep}{cfg}")
    assert load_upstream().context == "work"
    with pytest.raises(ConfigError, match="context 'nope' not found"):
        load_upstream(context="nope")


def test_token_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    settings = load_upstream(write_config(tmp_path / "config", {"tokenFile": "token"}))
    creds = Credentials(settings)
    assert asyncio.run(creds.authorization()) == "Bearer first"
    token_file.write_text("second-token\n")
    assert asyncio.run(creds.authorization()) == "Bearer second-token"


def test_client_certificate_data_and_ca_file(tmp_path: Path) -> None:
    ident = issue_server_identity(tmp_path / "pki")
    (tmp_path / "ca.crt").write_bytes(ident.ca_pem)
    cfg = write_config(
        tmp_path / "config",
        {"client-certificate-data": base64.b64encode(ident.cert_pem).decode(),
         "client-key-data": base64.b64encode(ident.key_pem).decode()},
        {"server": "https://127.0.0.1:1", "certificate-authority": "ca.crt",
         "tls-server-name": "kubernetes"})
    settings = load_upstream(cfg)
    assert settings.client_key_pem == ident.key_pem and settings.ca_pem == ident.ca_pem
    assert settings.tls_server_name == "kubernetes"
    assert "PRIVATE" not in repr(settings)
    ctx = asyncio.run(Credentials(settings).ssl_context())
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert asyncio.run(Credentials(settings).authorization()) is None


@pytest.mark.parametrize("user,cluster,message", [
    ({}, {"server": "https://x", "certificate-authority": "a",
          "certificate-authority-data": "Zm9v"}, "both certificate-authority and"),
    ({}, {"server": "https://x", "insecure-skip-tls-verify": True,
          "certificate-authority-data": "Zm9v"}, "insecure-skip-tls-verify together"),
    ({}, {"server": "ftp://x"}, "server must be an https:// URL"),
    ({"client-certificate-data": "Zm9v"}, None, "both a client certificate and a key"),
    ({"client-key-data": "!!"}, None, "client-key-data is not valid base64"),
    ({"auth-provider": {"name": "gcp"}}, None, "auth-provider is not supported"),
    ({"exec": {"command": "x", "apiVersion": "client.authentication.k8s.io/v1alpha1"}}, None,
     "apiVersion"),
    ({"exec": {"command": "x", "apiVersion": "client.authentication.k8s.io/v1",
               "interactiveMode": "Always"}}, None, "interactiveMode is Always"),
    ({"token": "t"}, {"server": "http://127.0.0.1:8080"}, "plain http"),
])
def test_contradictions_name_file_and_key(tmp_path: Path, user: dict[str, Any],
                                          cluster: dict[str, Any] | None, message: str) -> None:
    cfg = write_config(tmp_path / "config", user, cluster)
    with pytest.raises(ConfigError) as err:
        load_upstream(cfg)
    assert message in err.value.message
    assert str(cfg) in err.value.message


PLUGIN = """\
import json, os, sys, datetime as dt
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
assert info["spec"]["interactive"] is False
with open(sys.argv[1], "a") as fh:
    fh.write(os.environ.get("PLUGIN_GREETING", "") + "\\n")
expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=int(sys.argv[2])))
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                  "status": {"token": "exec-token-" + sys.argv[2],
                             "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
"""


def _exec_user(tmp_path: Path, lifetime: int) -> dict[str, Any]:
    (tmp_path / "plugin.py").write_text(PLUGIN)
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": ["plugin.py", str(tmp_path / "calls"), str(lifetime)],
                     "env": [{"name": "PLUGIN_GREETING", "value": "hi"}],
                     "interactiveMode": "Never"}}


def test_exec_plugin_is_cached_until_expiry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.chdir(tmp_path)
    creds = Credentials(load_upstream(write_config(tmp_path / "config",
                                                   _exec_user(tmp_path, 3600))))

    async def twice() -> list[str | None]:
        return [await creds.authorization(), await creds.authorization()]

    assert asyncio.run(twice()) == ["Bearer exec-token-3600"] * 2
    assert (tmp_path / "calls").read_text() == "hi\n"


def test_exec_plugin_runs_again_when_expired(tmp_path: Path) -> None:
    # A credential that expires within the refresh margin is never reused.
    creds = Credentials(load_upstream(write_config(tmp_path / "config",
                                                   _exec_user(tmp_path, 1))))

    async def twice() -> None:
        await creds.authorization()
        await creds.authorization()

    asyncio.run(twice())
    assert (tmp_path / "calls").read_text() == "hi\nhi\n"


def test_exec_plugin_failure_does_not_leak_output(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("print('SECRET-OUTPUT'); raise SystemExit(3)\n")
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(tmp_path / "bad.py")], "interactiveMode": "Never"}}
    creds = Credentials(load_upstream(write_config(tmp_path / "config", user)))
    with pytest.raises(AuthError) as err:
        asyncio.run(creds.authorization())
    assert "exited 3" in err.value.message and "SECRET" not in err.value.message


def test_insecure_is_honoured_with_a_warning(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config", {"token": "t"},
                       {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True})
    with pytest.warns(UserWarning, match="insecure-skip-tls-verify"):
        creds = Credentials(load_upstream(cfg))
    assert asyncio.run(creds.ssl_context()).verify_mode == ssl.CERT_NONE
