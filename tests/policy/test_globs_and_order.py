"""Property tests: glob matching, and first-match-wins evaluation order."""

from __future__ import annotations

import fnmatch
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgate.policy import Facts, Policy, evaluate
from kgate.policy.globs import GlobError, GlobSet, translate
from kgate.policy.model import Match, Rule
from kgate.proxy.attributes import parse_request

ALPHABET = "ab-.*?"
words = st.text(alphabet="ab-.", max_size=8)
patterns = st.text(alphabet=ALPHABET, max_size=8)


def _reference(pattern: str, value: str) -> bool:
    """An independent model of the glob rules: '*' any run, '?' any one char, rest literal."""
    return re.fullmatch("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                                for c in pattern), value, re.S) is not None


@given(patterns, words)
def test_glob_agrees_with_a_reference_model(pattern: str, value: str) -> None:
    assert GlobSet.of([pattern]).matches(value) == _reference(pattern, value)


@given(patterns, words)
def test_glob_agrees_with_fnmatchcase_without_classes(pattern: str, value: str) -> None:
    assert GlobSet.of([pattern]).matches(value) == fnmatch.fnmatchcase(value, pattern)


@given(words)
def test_a_literal_matches_only_itself(value: str) -> None:
    glob = GlobSet.of([value])
    assert glob.matches(value)
    assert not glob.matches(value + "x") and not glob.matches("x" + value)


@given(words)
def test_star_matches_everything_and_empty_only_empty(value: str) -> None:
    assert GlobSet.of(["*"]).matches(value)
    assert GlobSet.of([""]).matches(value) == (value == "")


@given(st.lists(patterns, max_size=4), words)
def test_a_set_matches_if_any_member_does(pats: list[str], value: str) -> None:
    assert GlobSet.of(pats).matches(value) == any(_reference(p, value) for p in pats)


@given(st.text(alphabet="abc!^", min_size=1, max_size=4), words)
def test_character_classes(body: str, value: str) -> None:
    pattern = f"[{body}]"
    try:
        glob = GlobSet.of([pattern])
    except GlobError:
        assert body == "!"  # "[!]" is an empty negated class
        return
    assert glob.matches(value) == fnmatch.fnmatchcase(value, pattern)


@pytest.mark.parametrize("bad", ["[abc", "a]", "[]", "[!]", "x[y"])
def test_bad_globs_are_errors(bad: str) -> None:
    with pytest.raises(GlobError):
        translate(bad)


# ---- first match wins ------------------------------------------------------------------------

VERBS = ["get", "list", "create", "delete", "patch"]
RESOURCES = ["pods", "configmaps", "deployments"]
NAMESPACES = ["dev", "prod", "prod-eu"]

rule_matches = st.fixed_dictionaries({
    "verbs": st.one_of(st.none(), st.lists(st.sampled_from([*VERBS, "*", "de*"]), min_size=1,
                                           max_size=2)),
    "resources": st.one_of(st.none(), st.lists(st.sampled_from([*RESOURCES, "*", "?ods"]),
                                               min_size=1, max_size=2)),
    "namespaces": st.one_of(st.none(), st.lists(st.sampled_from([*NAMESPACES, "prod*"]),
                                                min_size=1, max_size=2)),
})
rules = st.lists(st.tuples(rule_matches, st.sampled_from(["allow", "deny", "review"])),
                 max_size=6)


def _facts(verb: str, resource: str, namespace: str) -> Facts:
    group = "apps/v1" if resource == "deployments" else ""
    prefix = f"/apis/{group}" if group else "/api/v1"
    name = "" if verb in ("list", "create") else "/x"
    method = {"get": "GET", "list": "GET", "create": "POST", "delete": "DELETE",
              "patch": "PATCH"}[verb]
    return Facts(parse_request(method, f"{prefix}/namespaces/{namespace}/{resource}{name}"))


@settings(max_examples=300)
@given(rules, st.sampled_from(VERBS), st.sampled_from(RESOURCES), st.sampled_from(NAMESPACES))
def test_first_matching_rule_decides(spec: list[tuple[dict[str, list[str] | None], str]],
                                     verb: str, resource: str, namespace: str) -> None:
    built = tuple(
        Rule(f"r{i}", Match(**{k: GlobSet.of(v) for k, v in m.items() if v is not None}),
             action)  # type: ignore[arg-type]
        for i, (m, action) in enumerate(spec))
    policy = Policy(rules=built)
    facts = _facts(verb, resource, namespace)
    decision = evaluate(policy, facts)

    def hit(m: dict[str, list[str] | None]) -> bool:
        return all(v is None or any(_reference(p, value) for p in v)
                   for v, value in ((m["verbs"], verb), (m["resources"], resource),
                                    (m["namespaces"], namespace)))

    first = next((i for i, (m, _) in enumerate(spec) if hit(m)), None)
    if first is None:
        assert (decision.action, decision.rule) == ("allow", None)
    else:
        assert (decision.action, decision.rule) == (spec[first][1], f"r{first}")
