"""The example policies shipped in examples/ are valid, and say what their comments claim."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgate.policy import evaluate, load_policy
from kgate.proxy.attributes import parse_request
from kgate.proxy.facts import gather_facts

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", sorted(p.name for p in (EXAMPLES / "policies").glob("*.yaml")))
def test_example_policies_load(name: str, tmp_path: Path) -> None:
    assert load_policy(EXAMPLES / "policies" / name, tmp_path).rules


def _decide(policy_name: str, method: str, path: str, query: str = "") -> str:
    policy = load_policy(EXAMPLES / "policies" / policy_name, Path("/nonexistent"))
    facts = gather_facts(parse_request(method, path, query), ())
    return evaluate(policy, facts).action


def test_the_examples_decide_as_documented() -> None:
    pods = "/api/v1/namespaces/payments/pods"
    assert _decide("read-only-debugging.yaml", "GET", pods) == "allow"
    assert _decide("read-only-debugging.yaml", "DELETE", f"{pods}/p") == "deny"
    assert _decide("oncall-remediation.yaml", "DELETE", f"{pods}/p") == "review"
    assert _decide("oncall-remediation.yaml", "DELETE", "/api/v1/namespaces/payments") == "deny"
    assert _decide("ci-agent.yaml", "GET", "/api/v1/namespaces/preview-1/secrets/s") == "deny"
    assert _decide("ci-agent.yaml", "DELETE", "/api/v1/namespaces/preview-1/pods/p") == "allow"
    assert _decide("ci-agent.yaml", "GET", "/api/v1/namespaces/prod-x/pods") == "deny"
