"""Loading policies: the schema, file:line errors, lookup order, nothing half-applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgate.grants.rules import local_user
from kgate.policy import PolicyInvalid, load_policy, parse_policy
from kgate.policy.loader import BUILT_IN, parse_duration

GOOD = """\
apiVersion: kgate.dev/v1
kind: Policy
approvers: ["alice@example.com", "group:sre", "local:alice"]
allowSelfApproval: false
holdTimeout: 45s
holdReplayWindow: 15m
holds:
  notify: ["/usr/local/bin/notify-oncall", "--urgent"]
approvals:
  maxAuthAge: 5m
grants:
  maxTTL: 8h
  pendingTimeout: 1h
  defaultVerbs: [get, list, watch]
  autoApprove:
    - {namespaces: ["dev-*"], verbs: [get, list, watch], maxTTL: 1h}
rules:
  - name: no-namespace-delete
    match: {verbs: [delete, deletecollection], resources: [namespaces]}
    action: deny
    message: agents may not delete namespaces
  - name: review-prod-deletes
    match: {verbs: [delete], apiGroups: [apps], resources: [deployments], namespaces: ["prod-*"]}
    action: review
  - name: no-sa-token-secrets
    match: {verbs: [create, update, patch], resources: [secrets],
            body: {type: kubernetes.io/service-account-token}}
    action: deny
masking:
  secretEnvNames: "(?i)(pass|secret|token|key|credential)"
  detectors: [private-key, aws-key, jwt]
  custom: [{name: internal-token, regex: "tok_[A-Za-z0-9]{32}"}]
builtins:
  disable: [no-csr]
"""


def test_the_design_schema_loads() -> None:
    p = parse_policy(GOOD, "good.yaml")
    assert p.source == "good.yaml" and len(p.digest) == 64
    assert p.approvers == ("alice@example.com", "group:sre", "local:alice")
    assert (p.hold_timeout, p.hold_replay_window, p.approvals_max_auth_age) == (45, 900, 300)
    assert p.holds_notify == ("/usr/local/bin/notify-oncall", "--urgent")
    assert p.grants["maxTTL"] == "8h" and p.raw["grants"]["autoApprove"][0]["maxTTL"] == "1h"
    assert [r.name for r in p.rules] == ["no-namespace-delete", "review-prod-deletes",
                                         "no-sa-token-secrets"]
    assert [r.action for r in p.rules] == ["deny", "review", "deny"]
    assert p.rules[2].match.body == {"type": "kubernetes.io/service-account-token"}
    assert p.rules[0].line == 18
    assert p.masking.custom == (("internal-token", "tok_[A-Za-z0-9]{32}"),)
    assert p.builtins_disabled == frozenset({"no-csr"})


def test_defaults_when_keys_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KGATE_POLICY", raising=False)
    p = parse_policy("apiVersion: kgate.dev/v1\nkind: Policy\n", "min.yaml")
    assert (p.hold_timeout, p.hold_replay_window) == (60, 600)
    assert p.rules == () and not p.allow_self_approval
    # No approvers key: the local OS user, exactly as with no policy file at all.
    assert p.approvers == (local_user(),) == load_policy(None, Path("/nonexistent")).approvers


def _problems(text: str) -> list[str]:
    with pytest.raises(PolicyInvalid) as info:
        parse_policy(text, "p.yaml")
    return [str(p) for p in info.value.problems]


BAD = [
    ("misspelt key", "kind: Policy\nholdTimout: 60s\n",
     "p.yaml:2: holdTimout: unknown key (did you mean 'holdTimeout'?)"),
    ("misspelt match key", "rules:\n  - name: a\n    match:\n      verb: [get]\n    action: deny\n",
     "p.yaml:4: rules[0] (a).match.verb: unknown key (did you mean 'verbs'?)"),
    ("wrong action", "rules:\n  - name: a\n    match: {}\n    action: block\n",
     "p.yaml:4: rules[0] (a).action: unknown action 'block' (use allow, deny or review)"),
    ("broken regex", "masking:\n  custom:\n    - name: x\n      regex: 'tok_('\n",
     "p.yaml:4: masking.custom[0].regex: not a valid regular expression"),
    ("duplicate rule name",
     "rules:\n  - {name: a, match: {}, action: deny}\n  - {name: a, match: {}, action: allow}\n",
     "p.yaml:3: rules[1].name: duplicate rule name 'a' (first on line 2)"),
    ("yaml syntax", "rules:\n  - name: x\n   action: [\n",
     "p.yaml:3: YAML syntax error"),
    ("bad glob", "rules:\n  - name: a\n    match: {names: ['[abc']}\n    action: deny\n",
     "p.yaml:3: rules[0] (a).match.names: unclosed '[' in glob '[abc'"),
    ("duplicate key", "holdTimeout: 1s\nholdTimeout: 2s\n",
     "p.yaml:2: holdTimeout: duplicate key"),
    ("bad duration", "holdTimeout: soon\n",
     "p.yaml:1: holdTimeout: not a duration"),
    ("unknown builtin", "builtins:\n  disable: [no-such-thing]\n",
     "p.yaml:2: builtins.disable: unknown guardrail 'no-such-thing'"),
    ("masking guardrail", "builtins:\n  disable: [mask-nonresource]\n",
     "p.yaml:2: builtins.disable: mask-nonresource cannot be disabled"),
    ("unknown detector", "masking:\n  detectors: [jwt, nope]\n",
     "p.yaml:2: masking.detectors: unknown detector 'nope'"),
    ("grants key", "grants:\n  maxTtl: 8h\n",
     "p.yaml:2: grants.maxTtl: unknown key (did you mean 'maxTTL'?)"),
    ("wrong apiVersion", "apiVersion: v1\n", "p.yaml:1: apiVersion: must be kgate.dev/v1"),
    ("rule without action", "rules:\n  - name: a\n    match: {}\n",
     "p.yaml:2: rules[0] (a): a rule needs an action"),
    ("bad rule name", "rules:\n  - {name: No_Good, match: {}, action: deny}\n",
     "p.yaml:2: rules[0].name: 'No_Good' is not a rule name"),
    ("empty file", "", "p.yaml:1: the policy file is empty"),
    ("comments only", "# nothing yet\n", "p.yaml:1: the policy file is empty"),
    ("nobody approves", "kind: Policy\napprovers: []\n",
     "p.yaml:2: approvers: is empty, so nobody could ever approve"),
    ("approvers null", "approvers:\nkind: Policy\n", "p.yaml:1: approvers: is empty"),
    ("grant ttl in bare seconds", "grants:\n  maxTTL: 3600\n",
     "p.yaml:2: grants.maxTTL: 3600 is not a duration"),
    ("grant ttl below the minimum", "grants: {pendingTimeout: 5s}\n",
     "p.yaml:1: grants.pendingTimeout: '5s' is shorter than the minimum 10s"),
    ("unknown default verb", "grants:\n  defaultVerbs: [get, steal]\n",
     "p.yaml:2: grants.defaultVerbs: unknown verb(s) steal"),
    ("autoApprove without namespaces", "grants:\n  autoApprove:\n    - verbs: [get]\n",
     "p.yaml:3: grants.autoApprove[0].namespaces: must be a list of strings"),
    ("autoApprove resources", "grants:\n  autoApprove:\n    - namespaces: [dev-*]\n"
     "      resources: [pods]\n",
     "p.yaml:4: grants.autoApprove[0].resources: unknown key (known: namespaces, verbs, maxTTL)"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_policies_name_file_and_line(text: str, expected: str) -> None:
    problems = _problems(text)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    text = ("holdTimout: 60s\nrules:\n  - {name: a, match: {}, action: block}\n"
            "  - {name: a, match: {}, action: deny}\nmasking: {custom: [{name: x, regex: '('}]}\n")
    problems = _problems(text)
    assert [p.split(":", 2)[1] for p in problems] == ["1", "3", "4", "5"]


def test_grant_problems_join_the_others_in_file_order() -> None:
    text = ("holdTimout: 60s\napprovers: []\nrules:\n  - {name: a, match: {}, action: block}\n"
            "grants:\n  maxTTL: forever\n  defaultVerbs: [steal]\n")
    problems = _problems(text)
    assert [p.split(":", 3)[1:3] for p in problems] == [
        ["1", " holdTimout"], ["2", " approvers"], ["4", " rules[0] (a).action"],
        ["6", " grants.maxTTL"], ["7", " grants.defaultVerbs"]]


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1h30m", 5400),
                                               ("8h", 28800), (30, 30)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "1d", "m", "-5s", "5 minutes", True, -1])
def test_bad_durations(bad: object) -> None:
    assert parse_duration(bad) is None


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("KGATE_POLICY", raising=False)
    assert load_policy(None, home).source == BUILT_IN
    (home / "policy.yaml").write_text("holdTimeout: 11s\n")
    assert load_policy(None, home).hold_timeout == 11
    env = tmp_path / "env.yaml"
    env.write_text("holdTimeout: 22s\n")
    monkeypatch.setenv("KGATE_POLICY", str(env))
    assert load_policy(None, home).hold_timeout == 22
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("holdTimeout: 33s\n")
    assert load_policy(explicit, home).hold_timeout == 33


def test_the_builtin_default_is_shipped_in_the_package() -> None:
    p = load_policy(Path(__file__).resolve().parents[2] / "examples" / "policy.yaml")
    assert p.rules[0].name == "no-namespace-delete"
    names = {r.name: r.action for r in p.rules}
    assert names["review-deletes"] == names["review-scale"] == names["review-exec"] == "review"
