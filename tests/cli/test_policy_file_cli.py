"""``kgate request``/``approve`` read the policy file the way the proxy and ``kgate policy check``
do: one loader, so a file one of them refuses, all refuse, with the same ``file:line`` line and
exit 3; and ``approvers`` left out means the local user whether or not a file exists."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kgate.policy.loader import default_policy_text
from tests.fixtures.grants import run_kgate

BROKEN = [
    # (id, policy text, line, what the one error line says after "file:line: ")
    ("empty", "", 1, "the policy file is empty"),
    ("comments-only", "# TODO: write the policy\n\n", 1, "the policy file is empty"),
    ("approvers-empty", "kind: Policy\nallowSelfApproval: true\napprovers: []\n", 3,
     "approvers: is empty, so nobody could ever approve a grant or a held call; remove the key "
     "for the default (the local user, local:<user>) or name the approvers"),
    ("yaml-error", "allowSelfApproval: true\ngrants:\n  maxTTL: [8h\n", 4, "YAML syntax error"),
    ("grant-rule", "grants:\n  autoApprove:\n    - {namespaces: [dev-*], resources: [pods]}\n",
     3, "grants.autoApprove[0].resources: unknown key"),
]


def _home(tmp_path: Path, policy: str | None, name: str = "home") -> Path:
    home = tmp_path / name
    home.mkdir(mode=0o700)
    if policy is not None:
        (home / "policy.yaml").write_text(policy)
    return home


def _grants(home: Path) -> list[dict[str, object]]:
    out = run_kgate(home, "grants", "--all", "--json")
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def _one_config_error(out: subprocess.CompletedProcess[str], expected: str) -> None:
    """Exit 3, one error line naming file:line (plus one hint line), no traceback."""
    assert out.returncode == 3, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("hint:"), lines
    assert lines[0].startswith(f"error: invalid policy: {expected}"), lines


@pytest.mark.parametrize(("text", "line", "message"), [c[1:] for c in BROKEN],
                         ids=[c[0] for c in BROKEN])
def test_request_approve_and_check_refuse_the_same_files(tmp_path: Path, text: str, line: int,
                                                         message: str) -> None:
    home = _home(tmp_path, "allowSelfApproval: true\n")
    made = run_kgate(home, "request", "-n", "payments", "--ttl", "30m", "--json")
    assert made.returncode == 0, made.stderr
    grant_id = json.loads(made.stdout)["id"]
    policy = home / "policy.yaml"
    policy.write_text(text)           # the file goes bad while the grant waits
    expected = f"{policy}:{line}: {message}"

    _one_config_error(run_kgate(home, "request", "-n", "payments", "--ttl", "30m"), expected)
    _one_config_error(run_kgate(home, "approve", grant_id, "--yes"), expected)
    _one_config_error(run_kgate(home, "deny", grant_id, "--yes"), expected)
    assert [(g["id"], g["state"]) for g in _grants(home)] == [(grant_id, "pending")]

    check = run_kgate(home, "policy", "check")
    assert check.returncode == 3 and f"error: {expected}" in check.stderr, check.stderr


def test_no_file_and_a_file_without_approvers_both_mean_the_local_user(tmp_path: Path) -> None:
    # No policy file at all: the built-in default.
    bare = _home(tmp_path, None, "bare")
    made = run_kgate(bare, "request", "-n", "payments", "--ttl", "30m", "--json")
    assert made.returncode == 0, made.stderr
    grant = json.loads(made.stdout)
    me = grant["requester"]
    assert str(me).startswith("local:")
    shown = json.loads(run_kgate(bare, "policy", "show", "--json").stdout)
    assert shown["source"] == "built-in" and shown["approvers"] == [me]
    # I am an approver; what stops me is only self-approval, which the default forbids.
    refused = run_kgate(bare, "approve", grant["id"], "--yes")
    assert refused.returncode == 5 and "may not approve it too" in refused.stderr
    assert "not among the approvers" not in refused.stderr

    # The built-in default copied into a file, as its comment invites, with self-approval on:
    # the same approvers, so the same person can approve.
    copied = _home(tmp_path, default_policy_text().replace(
        "allowSelfApproval: false", "allowSelfApproval: true"), "copied")
    assert "\napprovers:" not in (copied / "policy.yaml").read_text()
    shown = json.loads(run_kgate(copied, "policy", "show", "--json").stdout)
    assert shown["source"] == str(copied / "policy.yaml") and shown["approvers"] == [me]
    made = run_kgate(copied, "request", "-n", "payments", "--ttl", "30m", "--json")
    grant_id = json.loads(made.stdout)["id"]
    approved = run_kgate(copied, "approve", grant_id, "--yes")
    assert approved.returncode == 0 and f"{grant_id} approved" in approved.stdout
    assert [(g["state"], g["approver"]) for g in _grants(copied)] == [("active", me)]


def test_named_approvers_replace_the_local_user(tmp_path: Path) -> None:
    home = _home(tmp_path, "approvers: [alice@example.com]\nallowSelfApproval: true\n")
    made = run_kgate(home, "request", "-n", "payments", "--ttl", "30m", "--json")
    grant_id = json.loads(made.stdout)["id"]
    out = run_kgate(home, "approve", grant_id, "--yes")
    assert out.returncode == 5 and "not among the approvers (alice@example.com)" in out.stderr
    assert str(home / "policy.yaml") in out.stderr
