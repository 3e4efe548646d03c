"""Policy settings for grants and the approval rules every inbox kind shares."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kgate.errors import ConfigError
from kgate.grants.agents import SessionAgents
from kgate.grants.approval import authorize, matches_approvers
from kgate.grants.errors import NotAllowed
from kgate.grants.identity import Identity
from kgate.grants.rules import GrantRules, local_user

POLICY = {
    "approvers": ["alice@example.com", "group:sre", "local:*"],
    "allowSelfApproval": True,
    "grants": {"maxTTL": "2h", "pendingTimeout": "15m", "defaultVerbs": ["get", "list"],
               "autoApprove": [{"namespaces": ["dev-*"], "verbs": ["get", "list", "watch"],
                                "maxTTL": "1h"}]},
}


def test_from_mapping_reads_the_design_keys() -> None:
    rules = GrantRules.from_mapping(POLICY)
    assert rules.approvers == ("alice@example.com", "group:sre", "local:*")
    assert rules.allow_self_approval
    assert (rules.max_ttl, rules.pending_timeout) == (7200, 900)
    assert rules.default_verbs == ("get", "list")
    assert rules.auto_approver(("dev-a", "dev-b"), ("get",), 3600) == 0
    assert rules.auto_approver(("dev-a", "prod"), ("get",), 60) is None
    assert rules.auto_approver(("dev-a",), ("delete",), 60) is None
    assert rules.auto_approver(("dev-a",), ("get",), 3601) is None


def test_defaults() -> None:
    rules = GrantRules.from_mapping({})
    assert rules.approvers == (local_user(),)
    assert not rules.allow_self_approval
    assert (rules.max_ttl, rules.pending_timeout) == (8 * 3600, 3600)
    assert rules.default_verbs == ("get", "list", "watch")


@pytest.mark.parametrize("policy,key", [
    ({"grants": {"maxTTL": "forever"}}, "grants.maxTTL"),
    ({"grants": {"defaultVerbs": ["get", "steal"]}}, "grants.defaultVerbs"),
    ({"approvers": "alice"}, "approvers"),
    ({"allowSelfApproval": "yes"}, "allowSelfApproval"),
    ({"grants": {"autoApprove": [{"verbs": ["get"]}]}}, "grants.autoApprove[0].namespaces"),
])
def test_bad_policy_names_the_key(policy: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        GrantRules.from_mapping(policy, source="p.yaml")


def test_approver_globs_and_groups() -> None:
    approvers = ("alice@example.com", "group:sre*", "local:*")
    assert matches_approvers(Identity("alice@example.com"), approvers)
    assert matches_approvers(Identity("bob@example.com", ("sre-oncall",)), approvers)
    assert matches_approvers(Identity("local:carol"), approvers)
    assert not matches_approvers(Identity("bob@example.com", ("dev",)), approvers)
    assert not matches_approvers(Identity("group:sre"), ("group:sre",))  # a name is no group


def _authorize(tmp_path: Path, decider: str, requester: str, rules: GrantRules, *,
               yes: bool = True, typed: str | None = None, env: dict[str, str] | None = None,
               action: str = "approve") -> None:
    authorize("g-1234abcd", requester, Identity(decider), rules, action=action,  # type: ignore[arg-type]
              home=tmp_path, yes=yes, prompt=lambda _q: typed, env=env or {})


def test_rules_in_order(tmp_path: Path) -> None:
    strict = GrantRules(approvers=("local:human",))
    _authorize(tmp_path, "local:human", "local:agent", strict)
    with pytest.raises(NotAllowed, match="not among the approvers"):
        _authorize(tmp_path, "local:agent", "local:human", strict)
    with pytest.raises(NotAllowed, match="may not approve it too"):
        _authorize(tmp_path, "local:human", "local:human", strict)
    _authorize(tmp_path, "local:human", "local:human", strict, action="deny")  # withdrawing
    lenient = GrantRules(approvers=("local:human",), allow_self_approval=True)
    _authorize(tmp_path, "local:human", "local:human", lenient)
    with pytest.raises(NotAllowed, match="KGATE_SESSION"):
        _authorize(tmp_path, "local:human", "local:agent", strict, env={"KGATE_SESSION": "s-1"})


def test_local_mode_asks_to_type_the_id(tmp_path: Path) -> None:
    rules = GrantRules(approvers=("local:human",))
    _authorize(tmp_path, "local:human", "x", rules, yes=False, typed="g-1234abcd")
    with pytest.raises(NotAllowed, match="was not typed"):
        _authorize(tmp_path, "local:human", "x", rules, yes=False, typed="y")
    with pytest.raises(NotAllowed, match="without a terminal") as err:
        _authorize(tmp_path, "local:human", "x", rules, yes=False, typed=None)
    assert err.value.hint and "--yes" in err.value.hint
    # An OIDC identity is not asked (step-up login is its proof, issue 12).
    authorize("g-1", "x", Identity("alice@example.com"), GrantRules(approvers=("alice@*",)),
              action="approve", home=tmp_path, yes=False, prompt=lambda _q: None, env={})


def test_refused_under_a_recorded_agent_process(tmp_path: Path) -> None:
    """An agent that started a shell that runs the check: its ancestry contains the agent."""
    agents = SessionAgents(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path;"
         "from kgate.grants.approval import refuse_inside_session;"
         "sys.stdin.readline();"
         "refuse_inside_session({}, Path(sys.argv[1]), 'g-1', 'approve')", str(tmp_path)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdin is not None
    agents.record("s-agent", os.getpid())      # this test process plays the agent
    child.stdin.write("\n")
    child.stdin.flush()
    _, stderr = child.communicate(timeout=60)
    assert child.returncode != 0 and "under the agent of kgate session s-agent" in stderr
    agents.end("s-agent")
    again = subprocess.run(
        [sys.executable, "-c",
         "import sys; from pathlib import Path;"
         "from kgate.grants.approval import refuse_inside_session;"
         "refuse_inside_session({}, Path(sys.argv[1]), 'g-1', 'approve')", str(tmp_path)],
        capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr                    # a session that ended
