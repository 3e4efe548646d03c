"""Policy settings for grants and the approval rules every inbox kind shares."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kgate.errors import ConfigError
from kgate.grants.agents import SessionAgents
from kgate.grants.approval import authorize, matches_approvers
from kgate.grants.errors import NotAllowed
from kgate.grants.identity import Identity
from kgate.grants.rules import GrantRules, check, load_rules, local_user
from kgate.policy import PolicyInvalid, parse_policy

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


@pytest.mark.parametrize("approvers", [[], None])
def test_nobody_as_approvers_is_an_error(approvers: object) -> None:
    with pytest.raises(ConfigError, match="p.yaml: approvers: is empty, so nobody could ever "
                                          "approve") as err:
        GrantRules.from_mapping({"approvers": approvers}, source="p.yaml")
    assert "remove the key for the default (the local user" in err.value.message


def test_check_lists_every_problem() -> None:
    problems = check({"approvers": [], "allowSelfApproval": "yes",
                      "grants": {"maxTTL": 3600, "autoApprove": [{"verbs": ["get", "steal"]}]}})
    assert [key for key, _ in problems] == [
        "approvers", "allowSelfApproval", "grants.maxTTL", "grants.autoApprove[0].namespaces",
        "grants.autoApprove[0].verbs"]


# Grant-key policies, valid and not: the loader (proxy, policy check) and the rules (request,
# approve) must take the same ones, and read the valid ones the same way.
AGREE = [
    "kind: Policy\n",
    "approvers: ['local:*']\nallowSelfApproval: true\n",
    "approvers: []\n",
    "approvers: alice\n",
    "allowSelfApproval: 1\n",
    "grants: {maxTTL: 2h, pendingTimeout: 15m, defaultVerbs: [get]}\n",
    "grants: {maxTTL: 1.5h}\n",
    "grants: {maxTTL: 3600}\n",
    "grants: {maxTTL: 5s}\n",
    "grants: []\n",
    "grants: {defaultVerbs: [get, steal]}\n",
    "grants: {autoApprove: {namespaces: [dev-*]}}\n",
    "grants: {autoApprove: [{namespaces: [dev-*], maxTTL: 1h}]}\n",
    "grants: {autoApprove: [{namespaces: dev-*}]}\n",
    "grants: {autoApprove: [{namespaces: [dev-*], verbs: [delete], maxTTL: forever}]}\n",
]


@pytest.mark.parametrize("text", AGREE)
def test_the_loader_and_the_rules_agree(text: str) -> None:
    try:
        direct: GrantRules | None = GrantRules.from_mapping(yaml.safe_load(text), source="p")
    except ConfigError:
        direct = None
    try:
        loaded: GrantRules | None = GrantRules.from_policy(parse_policy(text, "p"))
    except PolicyInvalid:
        loaded = None
    assert loaded == direct


def test_load_rules_reads_through_the_policy_loader(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KGATE_POLICY", raising=False)
    monkeypatch.setenv("KGATE_HOME", str(tmp_path))
    assert load_rules() == GrantRules(source="built-in")
    policy = tmp_path / "policy.yaml"
    policy.write_text("kind: Policy\ngrants:\n  maxTtl: 1h\n")  # a typo grants alone ignored
    with pytest.raises(PolicyInvalid, match=f"{policy}:3: grants.maxTtl: unknown key "
                                            r"\(did you mean 'maxTTL'\?\)"):
        load_rules()
    policy.write_text("grants:\n  maxTTL: 1h\n")
    assert load_rules().max_ttl == 3600 and load_rules().source == str(policy)


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
