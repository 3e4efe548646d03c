"""Who may decide on an item in the human's inbox: one set of rules for grants and holds.

``authorize`` runs, in order: not from inside an agent (``KGATE_SESSION`` in the environment, or
a recorded session agent among this process's ancestors); the decider matches ``approvers``
(globs; ``group:`` entries match the identity's groups); approving one's own request only with
``allowSelfApproval``; and in local mode a human at a terminal types the id (unless ``--yes``).
Each refusal is a ``NotAllowed`` whose message says which rule refused and what to do.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from kgate.grants.agents import SessionAgents, ancestors
from kgate.grants.errors import NotAllowed
from kgate.grants.identity import Identity
from kgate.grants.rules import GrantRules

Action = Literal["approve", "deny"]
Prompt = Callable[[str], "str | None"]  # returns what was typed, or None without a terminal


def matches_approvers(identity: Identity, approvers: tuple[str, ...]) -> bool:
    for entry in approvers:
        if entry.startswith("group:"):
            if any(fnmatch.fnmatchcase(g, entry[len("group:"):]) for g in identity.groups):
                return True
        elif fnmatch.fnmatchcase(identity.name, entry):
            return True
    return False


def refuse_inside_session(env: Mapping[str, str], home: Path | None, item_id: str,
                          action: Action) -> None:
    """``NotAllowed`` when this process runs as (or under) a kgate session's agent."""
    hint = "run it yourself, in a terminal that did not come from the agent"
    session = env.get("KGATE_SESSION")
    if session:
        raise NotAllowed(f"refusing to {action} {item_id} from inside kgate session {session} "
                         "(KGATE_SESSION is set): an agent may not decide on its own access",
                         hint=hint)
    agents = SessionAgents(home)
    try:
        found = agents.session_among(ancestors())
    finally:
        agents.close()
    if found:
        raise NotAllowed(f"refusing to {action} {item_id}: this command runs under the agent "
                         f"of kgate session {found[0]} (process {found[1]})", hint=hint)


def authorize(item_id: str, requester: str, decider: Identity, rules: GrantRules, *,
              action: Action, home: Path | None, yes: bool, prompt: Prompt,
              env: Mapping[str, str] | None = None) -> None:
    """Raise ``NotAllowed`` unless ``decider`` may ``action`` the item, here and now."""
    refuse_inside_session(os.environ if env is None else env, home, item_id, action)
    if not matches_approvers(decider, rules.approvers):
        raise NotAllowed(f"{decider} may not {action} {item_id}: not among the approvers "
                         f"({', '.join(rules.approvers) or 'none'}) in {rules.source}",
                         hint="ask an approver, or add yourself to 'approvers' in the policy")
    if action == "approve" and decider.name == requester and not rules.allow_self_approval:
        raise NotAllowed(f"{decider} requested {item_id} and may not approve it too",
                         hint="ask another approver, or set 'allowSelfApproval: true' in the "
                              "policy (local mode: only if no one else can approve)")
    if decider.is_local and not yes:
        typed = prompt(f"Type {item_id} to {action} it: ")
        if typed is None:
            raise NotAllowed(f"refusing to {action} {item_id} without a terminal to confirm on",
                             hint=f"run 'kgate {action} {item_id}' in a terminal, or add --yes")
        if typed.strip() != item_id:
            raise NotAllowed(f"{item_id} was not typed; nothing was decided")
