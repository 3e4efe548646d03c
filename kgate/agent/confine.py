"""What a confined agent may touch: the policy behind ``kgate exec``'s Landlock ruleset.

The agent runs as the same OS user as kgate, so without confinement ``cat ~/.kube/config`` walks
around the gate. Landlock is an allow-list: the agent gets

* read and execute on the system's program, library and configuration directories;
* read and write on its working directory, its private directory (the generated kubeconfig and
  a private ``TMPDIR``) and a few device nodes;
* read and write on every entry of ``$HOME`` — except the credential locations in
  ``CREDENTIALS`` (and ``$KGATE_HOME``, and every kubeconfig the user had). An allowed directory
  that *contains* a denied path is not allowed itself: it is replaced by its entries, minus the
  denied one, down to the denied path's parent. So entries created later in ``$HOME`` (or in
  ``~/.config``) are not reachable, and the temp directory, where other sessions keep their
  kubeconfigs, is never allowed wholesale.

Sockets are the exception the kernel leaves open: Landlock (up to ABI 7) does not govern
``connect`` to a *pathname* UNIX socket. The D-Bus session bus (the keyring's door) and
``$XDG_RUNTIME_DIR`` are therefore hidden in a private mount namespace (``kgate.agent.mountns``);
abstract sockets and signals are covered by Landlock scoping (ABI 6).

``plan`` is pure (it takes a directory lister); ``prepare`` opens the paths and builds the
ruleset in the ``kgate exec`` process, so the forked child only has to call two system calls.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kgate.errors import ExitCode, KgateError

#: Credential locations relative to ``$HOME``: never readable by a confined agent (docs print
#: this list). Add here, nowhere else.
CREDENTIALS: tuple[str, ...] = (
    ".kube",                          # kubeconfigs, client certificates, exec-plugin caches
    ".config/gcloud",                 # Google Cloud CLI (credentials.db, access_tokens.db)
    ".aws",                           # AWS CLI and SDKs
    ".azure",                         # Azure CLI (msal_token_cache.json)
    ".config/doctl",                  # DigitalOcean
    ".oci",                           # Oracle Cloud
    ".bluemix", ".ibmcloud",          # IBM Cloud CLI
    ".config/hcloud", ".config/linode-cli", ".config/scw",
    ".terraform.d/credentials.tfrc.json",
    ".docker/config.json",            # registry credentials, credential helpers' config
    ".config/helm/registry",          # OCI registry logins of helm
    ".local/share/keyrings",          # GNOME keyring files
    ".local/share/kwalletd",          # KDE wallet files
    ".local/share/python_keyring",    # keyrings.alt's file backends
    ".config/kgate", ".local/state/kgate",   # kgate's own state (also $KGATE_HOME)
)
#: Entries of ``$HOME`` that run code in *your* later, unconfined sessions (shell start-up, the
#: PATH, git's hooks and pager, autostart, ssh): readable but not writable, so an agent cannot
#: plant something there that reads the credentials once it has exited.
READ_ONLY: tuple[str, ...] = (
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc",
    ".zshenv", ".zprofile", ".zlogin", ".config/fish", ".inputrc", ".ssh", ".gnupg",
    ".local/bin", "bin", ".gitconfig", ".config/git", ".config/autostart", ".config/systemd",
    ".config/environment.d", ".pam_environment", ".xprofile", ".xsessionrc", ".envrc",
    ".config/direnv", ".npmrc", ".pypirc", ".netrc", ".config/pip", ".pip",
)
#: Credential locations outside ``$HOME``, denied when they exist (cluster nodes, pods).
SYSTEM_CREDENTIALS: tuple[str, ...] = (
    "/etc/kubernetes", "/etc/rancher", "/var/lib/rancher", "/var/lib/kubelet",
    "/run/secrets", "/var/run/secrets", "/run/user",
)
#: System directories the agent may read and execute from.
SYSTEM_READ: tuple[str, ...] = (
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/srv",
    "/var", "/run", "/nix", "/snap", "/proc", "/sys",
)
#: Device nodes an agent's tools open (terminals, /dev/null, randomness).
DEVICES: tuple[str, ...] = (
    "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
    "/dev/ptmx", "/dev/pts",
)
#: Minimum Landlock ABI: 6 brings the scoping that keeps the agent from signalling kgate.
MIN_ABI = 6


@dataclass(frozen=True)
class NetPolicy:
    """Which TCP ports the agent may connect to; ``None`` ports: no restriction."""

    ports: tuple[int, ...] | None = None

    @classmethod
    def parse(cls, value: str | None) -> NetPolicy:
        """``None``/``any`` · ``proxy-only`` · ``ports:443,80`` (the proxy's port always)."""
        if value is None or value == "any":
            return cls()
        if value == "proxy-only":
            return cls(ports=())
        kind, _, listed = value.partition(":")
        if kind == "ports" and listed:
            try:
                ports = tuple(int(p) for p in listed.split(","))
            except ValueError:
                ports = ()
            if ports and all(0 < p < 65536 for p in ports):
                return cls(ports=ports)
        raise KgateError(f"--net {value!r}: expected proxy-only or ports:443,80",
                         exit_code=ExitCode.USAGE)


@dataclass(frozen=True)
class Rule:
    path: str
    access: int


@dataclass(frozen=True)
class Plan:
    """Everything the confined child needs, decided in the parent."""

    rules: tuple[Rule, ...]
    denied: tuple[str, ...]
    hidden_dirs: tuple[str, ...] = ()
    hidden_sockets: tuple[str, ...] = ()
    ports: tuple[int, ...] | None = None
    notes: tuple[str, ...] = field(default=())


def _real(path: str | Path) -> str:
    """The resolved path; ``realpath`` (an ``lstat`` per component) only where something on
    the way exists, since a path whose parent does not exist cannot lead through a link."""
    path = os.path.abspath(os.path.expanduser(str(path)))
    if os.path.lexists(path) or os.path.lexists(os.path.dirname(path)):
        return os.path.realpath(path)
    return path


def _child_real(path: str) -> str:
    """An entry of an already resolved directory: resolved only if it is a symlink."""
    return os.path.realpath(path) if os.path.islink(path) else path


def _ancestors(path: str) -> Iterator[str]:
    """``path`` and each directory above it, up to ``/``."""
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def _under(path: str, root: str) -> bool:
    """``path`` is ``root`` or beneath it."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def credential_paths(home: str, env: Mapping[str, str], kgate_home: str,
                     kubeconfigs: Iterable[str | Path] = ()) -> list[str]:
    """Every path the agent must not read, resolved (whether it exists or not)."""
    real_home = _real(home)
    out = [_real(os.path.join(real_home, rel)) for rel in CREDENTIALS]
    out += [_real(p) for p in SYSTEM_CREDENTIALS if os.path.lexists(p)]
    out.append(_real(kgate_home))
    paths = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    out += [_real(p) for p in (*paths, *kubeconfigs)]
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "AWS_SHARED_CREDENTIALS_FILE",
                 "AWS_CONFIG_FILE", "AZURE_CONFIG_DIR", "CLOUDSDK_CONFIG", "DOCKER_CONFIG"):
        if env.get(name):
            out.append(_real(env[name]))
    return sorted(set(out))


def expand(roots: Sequence[Rule], denied: Sequence[str], carved: Sequence[str],
           listdir: Callable[[str], list[str]] = os.listdir,
           realpath: Callable[[str], str] = _child_real) -> list[Rule]:
    """Allow-list rules for ``roots`` minus ``denied`` (never readable) and ``carved``
    (not allowed as part of a parent, but an explicit root inside one is fine).

    A root beneath a denied path is dropped; a root containing a denied or carved path is
    replaced by its entries, recursively, so the hole is never covered by a rule.
    """
    denied_set, carved_set = set(denied), set(carved)
    # every directory strictly above a hole: such a directory is expanded, never allowed
    above_holes = {a for h in (*denied, *carved) for a in list(_ancestors(h))[1:]}
    out: list[Rule] = []

    def visit(path: str, access: int, ancestors: frozenset[str]) -> None:
        if any(a in denied_set for a in _ancestors(path)):
            return
        if path in ancestors or path in carved_set:   # a symlink back up, or the temp dir
            return
        if path not in above_holes:
            out.append(Rule(path, access))
            return
        try:
            names = sorted(listdir(path))
        except OSError:
            return
        for name in names:
            visit(realpath(os.path.join(path, name)), access, ancestors | {path})

    for root in roots:
        visit(root.path, root.access, frozenset())
    return out


def dbus_sockets(env: Mapping[str, str]) -> list[str]:
    """Pathname sockets named by ``DBUS_SESSION_BUS_ADDRESS`` (abstract ones: scoping)."""
    out = []
    for address in env.get("DBUS_SESSION_BUS_ADDRESS", "").split(";"):
        transport, _, params = address.partition(":")
        if transport != "unix":
            continue
        for param in params.split(","):
            key, _, value = param.partition("=")
            if key == "path" and value:
                out.append(value)
    return out


def plan(*, home: str, cwd: str, agent_dir: str, kgate_home: str, env: Mapping[str, str],
         kubeconfigs: Iterable[str | Path] = (), net: NetPolicy | None = None,
         exists: Callable[[str], bool] = os.path.lexists,
         listdir: Callable[[str], list[str]] = os.listdir) -> Plan:
    """The rules for one session (pure but for reading directory listings)."""
    from kgate.agent import landlock as ll

    denied = credential_paths(home, env, kgate_home, kubeconfigs)
    real_cwd = _real(cwd)
    if any(_under(real_cwd, d) for d in denied):
        raise KgateError(f"the working directory {cwd} holds credentials the agent may not "
                         "read", hint="run kgate exec from the agent's project directory",
                         exit_code=ExitCode.USAGE)
    carved = [_real(tempfile.gettempdir())]
    if real_cwd in carved:
        raise KgateError(f"the working directory {cwd} is the temp directory, where other "
                         "sessions keep their kubeconfigs",
                         hint="run kgate exec from the agent's project directory",
                         exit_code=ExitCode.USAGE)
    roots = [Rule(_real(p), ll.FS_READ) for p in SYSTEM_READ if exists(p)]
    roots += [Rule(_real(p), ll.FS_ALL) for p in DEVICES if exists(p)]
    if exists("/dev/shm"):
        roots.append(Rule(_real("/dev/shm"), ll.FS_ALL))
    real_home = _real(home)
    roots += [Rule(real_home, ll.FS_ALL), Rule(real_cwd, ll.FS_ALL),
              Rule(_real(agent_dir), ll.FS_ALL)]
    read_only = [p for p in (_real(os.path.join(real_home, rel)) for rel in READ_ONLY)
                 if not any(a in denied for a in _ancestors(p))]
    rules = expand(roots, denied, [*carved, *read_only], listdir=listdir)
    rules += [Rule(p, ll.FS_READ) for p in read_only if exists(p)]
    if any(r.path == real_home for r in rules):
        raise AssertionError("$HOME itself must never be allowed")  # pragma: no cover
    uid = os.getuid() if hasattr(os, "getuid") else 0
    runtime = [env.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"]
    hidden_dirs = tuple(p for p in runtime if os.path.isdir(p))
    sockets = tuple(p for p in dbus_sockets(env) if exists(p)
                    and not any(_under(p, d) for d in hidden_dirs))
    return Plan(rules=tuple(rules), denied=tuple(denied), hidden_dirs=hidden_dirs,
                hidden_sockets=sockets, ports=(net or NetPolicy()).ports)


def unavailable_reason(abi: int | None = None) -> str | None:
    """Why ``kgate exec`` cannot confine here, or None if it can."""
    if sys.platform != "linux":
        import platform
        return (f"kgate cannot confine an agent on {platform.system()} yet (Linux Landlock "
                "only; macOS's Seatbelt is the planned path)")
    from kgate.agent.landlock import abi_version
    abi = abi_version() if abi is None else abi
    if abi == 0:
        return "this kernel has no Landlock (Linux ≥ 6.12 with Landlock enabled is needed)"
    if abi < MIN_ABI:
        return (f"this kernel's Landlock is ABI {abi}; kgate needs ABI {MIN_ABI} (Linux ≥ "
                "6.12) to keep the agent from signalling kgate's own processes")
    return None


def require() -> int:
    """The usable Landlock ABI, or a one-line refusal naming ``--no-confine``."""
    reason = unavailable_reason()
    if reason is not None:
        raise KgateError(f"cannot confine the agent: {reason}",
                         hint="pass --no-confine to run it unconfined (it can then read your "
                              "cluster and cloud credentials)", exit_code=ExitCode.UNAVAILABLE)
    from kgate.agent.landlock import KNOWN_ABI, abi_version
    return min(abi_version(), KNOWN_ABI)


@dataclass(frozen=True)
class ConfineRequest:
    """What ``kgate exec`` decided before the session starts (ABI checked, options parsed)."""

    abi: int
    kgate_home: Path
    net: NetPolicy = NetPolicy()
    #: The user's kubeconfig files (and files they name) the proxy reads: denied to the agent.
    kubeconfigs: tuple[str, ...] = ()


class Confiner:
    """The ruleset, built in the parent; calling it (in the forked child) confines the child."""

    def __init__(self, confinement: Plan, abi: int, *, proxy_port: int) -> None:
        from kgate.agent import landlock as ll
        from kgate.agent.mountns import hide

        self._hide = hide
        restrict_net = confinement.ports is not None
        self.ruleset = ll.Ruleset(ll.Handled(
            fs=ll.fs_rights(abi), net=ll.NET_CONNECT_TCP if restrict_net else 0,
            scoped=ll.scopes(abi)))
        try:
            for rule in confinement.rules:
                try:
                    self.ruleset.allow_path(rule.path, rule.access)
                except FileNotFoundError:
                    continue   # went away since it was listed: nothing to allow
            if restrict_net:
                for port in sorted({proxy_port, *(confinement.ports or ())}):
                    self.ruleset.allow_port(port)
        except BaseException:
            self.ruleset.close()
            raise
        self.hidden_dirs = confinement.hidden_dirs
        self.hidden_sockets = confinement.hidden_sockets

    def __call__(self) -> None:
        """Runs between fork and exec: system calls only, no imports, no threads."""
        try:
            if self.hidden_dirs or self.hidden_sockets:
                self._hide(self.hidden_dirs, self.hidden_sockets)
            self.ruleset.restrict_self()
        except OSError as err:
            os.write(2, f"kgate: cannot confine the agent: {err.strerror}\n".encode())
            raise

    def close(self) -> None:
        self.ruleset.close()


def confiner_for(request: ConfineRequest, *, agent_dir: Path, proxy_port: int,
                 env: dict[str, str]) -> Confiner:
    """Plan and build the confinement of one agent; point its temp and cache dirs inside
    ``agent_dir`` (the only writable places outside its working directory and ``$HOME``)."""
    tmp = agent_dir / "tmp"
    tmp.mkdir(mode=0o700, exist_ok=True)
    env["TMPDIR"] = str(tmp)
    env["KUBECACHEDIR"] = str(agent_dir / "kube-cache")
    try:
        confinement = plan(home=os.environ.get("HOME") or os.path.expanduser("~"),
                           cwd=os.getcwd(), agent_dir=str(agent_dir),
                           kgate_home=str(request.kgate_home), env=os.environ,
                           kubeconfigs=request.kubeconfigs, net=request.net)
        return Confiner(confinement, request.abi, proxy_port=proxy_port)
    except OSError as err:   # fail closed, in one line
        raise KgateError(f"cannot confine the agent: {err.strerror or err}",
                         hint="pass --no-confine to run it unconfined (it can then read your "
                              "cluster and cloud credentials)") from None
