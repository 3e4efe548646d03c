"""Policy: which calls an agent may make, which wait for a human, which are refused — and why.

``model`` (the frozen ``Policy``: rules, approvers, hold timings, masking settings) ·
``loader`` (YAML → ``Policy``, every error as file:line; lookup ``--policy`` →
``$KGATE_POLICY`` → ``$KGATE_HOME/policy.yaml`` → built-in ``kgate/examples/policy.yaml``) ·
``globs`` (match-key patterns) · ``facts`` (what a request is, including fields read from
protobuf bodies) · ``guardrails`` (the one registry of named built-in refusals) · ``evaluate``
(pure: facts + policy → ``Decision`` allow | deny | review, first match wins; ``explain`` for
``kgate policy eval``). Nothing here does I/O except the loader reading its file.
"""

from kgate.policy.evaluate import ALLOW, Decision, evaluate, explain
from kgate.policy.facts import Facts
from kgate.policy.loader import PolicyInvalid, load_policy, parse_policy
from kgate.policy.model import Policy, Rule, guardrails_only

__all__ = ["ALLOW", "Decision", "Facts", "Policy", "PolicyInvalid", "Rule", "evaluate",
           "explain", "guardrails_only", "load_policy", "parse_policy"]
