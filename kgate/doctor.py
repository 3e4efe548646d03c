"""``kgate doctor``: is this machine ready to broker an agent's access, and if not, what to do.

Each check is a small function returning a ``Check`` (ok / warn / fail, what was found, and the
fix). Checks never raise: a check that breaks reports ``fail`` with the exception's type, never
its message (which could quote a credential). The cluster check goes through the same upstream
client the proxy uses, so "doctor says ok" means "the proxy can reach it".
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class DoctorOptions:
    home: Path
    kubeconfig: Path | None = None
    context: str | None = None
    policy: Path | None = None


def check_home(opts: DoctorOptions) -> Check:
    home = opts.home
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o077:
        return Check("state directory", "fail", f"{home} is mode {mode:o}: other users can read "
                     "kgate's CA key and session logs", f"chmod 700 {home}")
    return Check("state directory", "ok", f"{home} (0700)")


def check_config(opts: DoctorOptions) -> Check:
    path = opts.home / "config.toml"
    if not path.exists():
        return Check("config", "ok", f"no {path.name} (defaults; local identity)")
    try:
        tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        return Check("config", "fail", f"{path} is not valid TOML ({err})", f"fix or remove {path}")
    return Check("config", "ok", str(path))


def _oidc_issuer(opts: DoctorOptions) -> str | None:
    path = opts.home / "config.toml"
    try:
        data = tomllib.loads(path.read_text()) if path.exists() else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    oidc = data.get("oidc")
    issuer = oidc.get("issuer") if isinstance(oidc, dict) else None
    return issuer if isinstance(issuer, str) and issuer else None


def check_identity(opts: DoctorOptions) -> Check:
    issuer = _oidc_issuer(opts)
    if issuer is None:
        return Check("identity", "warn", "local mode (no OIDC issuer): approvals are typed at a "
                     "terminal, which cannot stop an agent running as the same OS user",
                     "kgate login --issuer URL --client-id ID")
    import requests
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        reply = requests.get(url, timeout=5)
        reply.raise_for_status()
        reply.json()
    except (requests.RequestException, ValueError) as err:
        return Check("identity", "fail", f"issuer {issuer} unreachable ({type(err).__name__})",
                     "check the network and the issuer URL in config.toml")
    return Check("identity", "ok", f"OIDC issuer {issuer} reachable")


def check_token_store(opts: DoctorOptions) -> Check:
    forced = os.environ.get("KGATE_TOKEN_STORE")
    if forced == "file":
        return Check("token store", "warn", "forced to a 0600 file under $KGATE_HOME "
                     "(KGATE_TOKEN_STORE=file)", "unset KGATE_TOKEN_STORE to use the OS keyring")
    try:
        import keyring
        from keyring.backends import fail
        backend = keyring.get_keyring()
    except Exception as err:  # noqa: BLE001 - any keyring failure means "no keyring"
        return Check("token store", "warn", f"no OS keyring ({type(err).__name__}); tokens go "
                     "to a 0600 file under $KGATE_HOME", "install and unlock a Secret Service "
                     "(e.g. gnome-keyring) to keep tokens in the OS keyring")
    if isinstance(backend, fail.Keyring):
        return Check("token store", "warn", "no usable OS keyring backend; tokens go to a 0600 "
                     "file under $KGATE_HOME", "install and unlock a Secret Service (e.g. "
                     "gnome-keyring) to keep tokens in the OS keyring")
    return Check("token store", "ok", f"OS keyring ({type(backend).__name__})")


def check_cluster(opts: DoctorOptions) -> Check:
    from kgate.errors import KgateError
    from kgate.upstream_config import load_upstream
    try:
        settings = load_upstream(opts.kubeconfig, opts.context)
    except KgateError as err:
        return Check("cluster", "fail", err.message, err.hint or "pass --kubeconfig/--context")
    try:
        version = asyncio.run(_server_version(settings))
    except KgateError as err:
        return Check("cluster", "fail", f"{settings.server}: {err.message}", err.hint or "")
    except Exception as err:  # noqa: BLE001 - the message could quote a credential
        return Check("cluster", "fail", f"{settings.server}: {type(err).__name__}",
                     "check the kubeconfig's server and credentials with kubectl")
    return Check("cluster", "ok", f"{settings.server} (context {settings.context}), "
                 f"Kubernetes {version}")


async def _server_version(settings: object) -> str:
    from kgate.errors import UnavailableError
    from kgate.proxy.engine import UpstreamRequest
    from kgate.proxy.errors import UpstreamError
    from kgate.proxy.lean.client import LeanUpstream
    client = LeanUpstream(settings)  # type: ignore[arg-type]
    try:
        response = await client.send(UpstreamRequest(
            method="GET", path_qs="/version", headers=(("Accept", "application/json"),)))
        try:
            body = await response.read(1 << 20)
        finally:
            response.close()
    except UpstreamError as err:
        raise UnavailableError(err.message) from None
    finally:
        await client.close()
    if response.status == 401:
        raise UnavailableError("the API server rejected your credential (401)",
                               hint="refresh the credentials of that kubeconfig context")
    if response.status != 200:
        raise UnavailableError(f"/version answered HTTP {response.status}")
    info = json.loads(body)
    return str(info.get("gitVersion") or f"{info.get('major')}.{info.get('minor')}")


def check_policy(opts: DoctorOptions) -> Check:
    from kgate.policy import PolicyInvalid, load_policy
    try:
        policy = load_policy(opts.policy, opts.home)
    except PolicyInvalid as err:
        return Check("policy", "fail", err.message,
                     "kgate policy check shows every problem with file:line")
    disabled = ", ".join(sorted(policy.builtins_disabled)) or "none"
    return Check("policy", "ok", f"{policy.source}: {len(policy.rules)} rules, built-in "
                 f"guardrails disabled: {disabled}")


def check_ca(opts: DoctorOptions) -> Check:
    cert_path = opts.home / "pki" / "ca.crt"
    if not cert_path.exists():
        return Check("loopback CA", "ok", "not created yet (made on first proxy start)")
    import datetime as dt

    from cryptography import x509
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return Check("loopback CA", "fail", f"{cert_path} is not a PEM certificate",
                     f"remove {cert_path.parent} and let kgate make a new one")
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    key = cert_path.parent / "ca.key"
    if key.exists() and stat.S_IMODE(key.stat().st_mode) & 0o077:
        return Check("loopback CA", "fail", f"{key} is readable by others", f"chmod 600 {key}")
    if left < dt.timedelta(days=30):
        return Check("loopback CA", "warn", f"expires in {left.days} days",
                     f"remove {cert_path.parent} to have kgate make a new one")
    return Check("loopback CA", "ok", f"{cert_path} (valid {left.days} more days)")


def check_kubectl(opts: DoctorOptions) -> Check:
    found = shutil.which("kubectl")
    if found is None:
        return Check("kubectl", "warn", "no kubectl on PATH (agents that use it will fail)",
                     "install kubectl")
    real = os.path.realpath(found)
    try:
        out = subprocess.run([found, "version", "--client", "-o", "json"], capture_output=True,
                             text=True, timeout=15, check=False)
        version = json.loads(out.stdout)["clientVersion"]["gitVersion"]
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return Check("kubectl", "warn", f"{found} did not report its version",
                     "run kubectl version --client to see why")
    note = " (the Google Cloud CLI dispatcher)" if "google-cloud-sdk" in real else ""
    return Check("kubectl", "ok", f"{found}{note}: {version}")


def check_confinement(opts: DoctorOptions) -> Check:
    """Can ``kgate exec`` confine the agent here, and with what (docs/confinement.md)."""
    from kgate.agent import confine
    from kgate.agent.landlock import KNOWN_ABI, abi_version

    reason = confine.unavailable_reason()
    if reason is not None:
        return Check("confinement", "fail", f"{reason}: kgate exec refuses to start an agent "
                     "unless --no-confine, and an unconfined agent can read your credentials",
                     "run agents on Linux ≥ 6.12 with Landlock enabled (lsm=…,landlock)")
    abi = abi_version()
    allows = (f"Landlock ABI {abi}{' (used as ' + str(KNOWN_ABI) + ')' if abi > KNOWN_ABI else ''}"
              ": the agent reads system directories, reads and writes its working directory, "
              "a private temp dir and $HOME minus "
              f"{len(confine.CREDENTIALS)} credential locations and $KGATE_HOME; it cannot "
              "signal or ptrace kgate, nor reach abstract UNIX sockets outside its sandbox; "
              "--net limits its TCP connects")
    env = os.environ
    runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    to_hide = [p for p in (runtime, *confine.dbus_sockets(env)) if os.path.exists(p)]
    if not to_hide:
        return Check("confinement", "ok", allows + "; no session bus found to hide")
    from kgate.agent.mountns import available
    if not available():
        return Check("confinement", "fail", f"{allows}; but user namespaces are disabled, so "
                     f"kgate cannot hide {', '.join(to_hide)} (Landlock does not govern connect "
                     "on a pathname socket: the D-Bus session bus opens the keyring) and kgate "
                     "exec refuses to start", "allow unprivileged user namespaces (sysctl "
                     "kernel.apparmor_restrict_unprivileged_userns=0) or pass --no-confine")
    return Check("confinement", "ok", f"{allows}; {', '.join(to_hide)} hidden in a private "
                 "mount namespace")


CHECKS: tuple[Callable[[DoctorOptions], Check], ...] = (
    check_home, check_config, check_identity, check_token_store, check_cluster, check_policy,
    check_ca, check_kubectl, check_confinement,
)


def run_checks(opts: DoctorOptions) -> list[Check]:
    """Every check, in order; a check that crashes is reported as failed, never raised."""
    results = []
    for check in CHECKS:
        try:
            results.append(check(opts))
        except Exception as err:  # noqa: BLE001 - doctor must always finish its report
            name = check.__name__.removeprefix("check_").replace("_", " ")
            results.append(Check(name, "fail", f"the check itself failed "
                                 f"({type(err).__name__})", "report this as a kgate bug"))
    return results
