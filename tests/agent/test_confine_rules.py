"""The confinement policy as a pure function: which paths a confined agent may reach.

A fake directory tree (a dict of directory → entries) stands in for the disk, so each case says
exactly what exists; the planner must allow each entry of ``$HOME`` except the credentials, and
never a directory that contains one.
"""

from __future__ import annotations

import os

import pytest

from kgate.agent import confine
from kgate.agent import landlock as ll
from kgate.agent.confine import NetPolicy, Rule, expand
from kgate.errors import ExitCode, KgateError

TREE = {
    "/h": [".kube", ".aws", ".config", ".local", "proj", "notes.txt", ".bashrc"],
    "/h/.config": ["gcloud", "some-agent", "doctl"],
    "/h/.local": ["share", "state", "bin"],
    "/h/.local/share": ["keyrings", "fonts"],
    "/h/.local/state": ["kgate", "less"],
    "/h/proj": ["src", "kubeconfig.yaml"],
    "/tmp": ["kgate-s-other", "agent-dir"],
}


def _listdir(path: str) -> list[str]:
    if path not in TREE:
        raise FileNotFoundError(path)
    return TREE[path]


def _paths(rules: list[Rule]) -> set[str]:
    return {r.path for r in rules}


def _identity(p: str) -> str:
    return p


def test_home_entries_minus_the_credentials() -> None:
    denied = ["/h/.kube", "/h/.aws", "/h/.config/gcloud", "/h/.config/doctl",
              "/h/.local/share/keyrings", "/h/.local/state/kgate"]
    rules = expand([Rule("/h", ll.FS_ALL)], denied, [], listdir=_listdir, realpath=_identity)
    assert _paths(rules) == {"/h/proj", "/h/notes.txt", "/h/.bashrc", "/h/.config/some-agent",
                             "/h/.local/share/fonts", "/h/.local/state/less", "/h/.local/bin"}
    # no rule on a directory that holds a denied path (a rule covers everything beneath)
    for rule in rules:
        assert not any(d.startswith(rule.path + "/") or d == rule.path for d in denied)


def test_a_denied_file_inside_the_working_directory_is_carved_out() -> None:
    rules = expand([Rule("/h/proj", ll.FS_ALL)], ["/h/proj/kubeconfig.yaml"], [],
                   listdir=_listdir, realpath=_identity)
    assert _paths(rules) == {"/h/proj/src"}


def test_the_temp_dir_is_never_allowed_wholesale_but_an_explicit_root_inside_is() -> None:
    roots = [Rule("/", ll.FS_READ), Rule("/tmp/agent-dir", ll.FS_ALL)]
    tree = {"/": ["usr", "tmp"]}
    rules = expand(roots, [], ["/tmp"], listdir=lambda p: tree.get(p) or _listdir(p),
                   realpath=_identity)
    assert _paths(rules) == {"/usr", "/tmp/agent-dir"}


def test_roots_beneath_a_credential_are_dropped_and_symlinks_back_up_are_not_followed() -> None:
    tree = {"/h": ["loop", ".kube", "a"]}
    real = {"/h/loop": "/h"}
    rules = expand([Rule("/h", ll.FS_ALL), Rule("/h/.kube/cache", ll.FS_ALL)], ["/h/.kube"], [],
                   listdir=lambda p: tree[p], realpath=lambda p: real.get(p, p))
    assert _paths(rules) == {"/h/a"}


def test_plan_denies_credentials_kubeconfigs_and_kgate_home(tmp_path: os.PathLike[str]) -> None:
    home = os.path.join(tmp_path, "home")
    for rel in (".kube", ".aws", ".config/gcloud", ".config/agent", "work", "state/kg",
                ".local/bin", ".local/lib"):
        os.makedirs(os.path.join(home, rel))
    open(os.path.join(home, ".bashrc"), "w").close()
    upstream = os.path.join(home, "work", "cluster.kubeconfig")
    open(upstream, "w").close()
    agent_dir = os.path.join(tmp_path, "agent")
    os.mkdir(agent_dir)
    env = {"KUBECONFIG": os.path.join(home, "work", "other.yaml"),
           "DBUS_SESSION_BUS_ADDRESS": "unix:abstract=/tmp/dbus-x,guid=1;unix:path=/nope/bus"}
    p = confine.plan(home=home, cwd=os.path.join(home, "work"), agent_dir=agent_dir,
                     kgate_home=os.path.join(home, "state", "kg"), env=env,
                     kubeconfigs=[upstream], net=NetPolicy.parse("proxy-only"))
    allowed = {r.path for r in p.rules}
    real_home = os.path.realpath(home)
    for denied in (".kube", ".aws", ".config/gcloud", "state/kg", "work/cluster.kubeconfig"):
        path = os.path.join(real_home, denied)
        assert path in p.denied
        assert not any(path == a or path.startswith(a + "/") for a in allowed), denied
    assert os.path.join(real_home, ".config", "agent") in allowed
    access = {r.path: r.access for r in p.rules}
    # what runs in the user's later, unconfined sessions is readable, not writable
    for rel in (".bashrc", ".local/bin"):
        assert access[os.path.join(real_home, rel)] == ll.FS_READ, rel
    assert access[os.path.join(real_home, ".local", "lib")] == ll.FS_ALL
    assert os.path.realpath(agent_dir) in allowed and "/usr" in allowed
    assert real_home not in allowed and os.path.join(real_home, "work") not in allowed
    assert p.ports == () and p.hidden_sockets == ()   # the bus path does not exist here


def test_a_working_directory_inside_a_credential_location_is_refused(tmp_path: os.PathLike[str]
                                                                     ) -> None:
    home = os.path.join(tmp_path, "home")
    os.makedirs(os.path.join(home, ".kube", "x"))
    with pytest.raises(KgateError, match="holds credentials") as err:
        confine.plan(home=home, cwd=os.path.join(home, ".kube", "x"), agent_dir=str(tmp_path),
                     kgate_home=str(tmp_path), env={})
    assert err.value.exit_code == ExitCode.USAGE


def test_dbus_addresses() -> None:
    env = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus;"
                                       "unix:abstract=/tmp/dbus-1;tcp:host=x,port=1"}
    assert confine.dbus_sockets(env) == ["/run/user/1000/bus"]
    assert confine.dbus_sockets({}) == []


@pytest.mark.parametrize(("value", "ports"), [
    (None, None), ("any", None), ("proxy-only", ()), ("ports:443,80", (443, 80))])
def test_net_policy(value: str | None, ports: tuple[int, ...] | None) -> None:
    assert NetPolicy.parse(value).ports == ports


@pytest.mark.parametrize("value", ["ports:", "ports:0", "ports:70000", "ports:a", "all", ""])
def test_bad_net_policy_is_a_usage_error(value: str) -> None:
    with pytest.raises(KgateError) as err:
        NetPolicy.parse(value)
    assert err.value.exit_code == ExitCode.USAGE


def test_abi_handling() -> None:
    assert confine.unavailable_reason(7) is None and confine.unavailable_reason(6) is None
    old = confine.unavailable_reason(5)
    assert old is not None and "ABI 5" in old and "ABI 6" in old
    missing = confine.unavailable_reason(0)
    assert missing is not None and "no Landlock" in missing


def test_other_systems_are_refused_with_a_pointer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(confine.sys, "platform", "darwin")
    reason = confine.unavailable_reason()
    assert reason is not None and "Seatbelt" in reason
    with pytest.raises(KgateError, match="cannot confine the agent") as err:
        confine.require()
    assert err.value.hint is not None and "--no-confine" in err.value.hint


def test_fast_path_parses_the_confinement_options() -> None:
    from kgate.agent.command import parse_fast
    opts = parse_fast(["--no-confine", "--", "true"])
    assert opts is not None and opts.no_confine and opts.net is None
    opts = parse_fast(["--net", "ports:443", "--", "true"])
    assert opts is not None and not opts.no_confine and opts.net == "ports:443"
    opts = parse_fast(["--net=proxy-only", "true"])
    assert opts is not None and opts.net == "proxy-only"


def test_doctor_reports_the_abi_and_the_hidden_bus(tmp_path: os.PathLike[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from kgate.doctor import DoctorOptions, check_confinement
    runtime = os.path.join(tmp_path, "run-user")
    os.mkdir(runtime)
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    check = check_confinement(DoctorOptions(home=Path(tmp_path)))
    assert check.status == "ok" and f"ABI {ll.abi_version()}" in check.detail
    assert f"{runtime} hidden in a private mount namespace" in check.detail
    monkeypatch.setattr(confine.sys, "platform", "darwin")
    refused = check_confinement(DoctorOptions(home=Path(tmp_path)))
    assert refused.status == "fail" and "--no-confine" in refused.detail


def test_the_docs_print_every_credential_location() -> None:
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "confinement.md").read_text()
    text = " ".join(doc.split())
    for rel in (*confine.CREDENTIALS, *confine.READ_ONLY):
        assert f"`~/{rel}`" in text, rel
    for path in confine.SYSTEM_CREDENTIALS:
        assert f"`{path}`" in text, path
