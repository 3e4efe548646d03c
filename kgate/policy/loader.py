"""Reading a policy file: YAML with line numbers, every error reported as file:line, all or nothing.

The file is composed into PyYAML nodes (which keep their marks) and validated node by node, so
each complaint names the line of the key or value at fault. Unknown keys, duplicate keys, bad
globs, uncompilable regexes, unknown actions and duplicate rule names are errors, never ignored;
``load_policy`` raises ``PolicyInvalid`` listing all of them and returns nothing half-built.
It is the one reader of the policy file: ``kgate request``/``approve`` take their grant rules
from the ``Policy`` it returns, and the grant keys (``approvers``, ``allowSelfApproval``,
``grants:``) are checked here by the grants package's own ``check``, so every command accepts
and refuses the same files with the same ``file:line`` lines.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kgate.errors import ConfigError
from kgate.grants import rules as grant_rules
from kgate.policy.globs import GlobError, GlobSet
from kgate.policy.guardrails import BY_NAME
from kgate.policy.model import (
    ACTIONS,
    DEFAULT_HOLD_TIMEOUT,
    DEFAULT_MAX_AUTH_AGE,
    DEFAULT_REPLAY_WINDOW,
    Match,
    Policy,
    Rule,
)
from kgate.proxy.masking.settings import MaskingSettings

BUILT_IN = "built-in"
_TOP_KEYS = ("apiVersion", "kind", "approvers", "allowSelfApproval", "holdTimeout",
             "holdReplayWindow", "holds", "approvals", "grants", "rules", "masking", "builtins")
_RULE_KEYS = ("name", "match", "action", "message")
_GLOB_KEYS = {"verbs": "verbs", "apiGroups": "api_groups", "resources": "resources",
              "subresources": "subresources", "namespaces": "namespaces", "names": "names"}
_MATCH_KEYS = (*_GLOB_KEYS, "dryRun", "body")
_GRANT_KEYS = ("maxTTL", "pendingTimeout", "defaultVerbs", "autoApprove")
_AUTO_KEYS = grant_rules.AUTO_APPROVE_KEYS
_GRANT_TOP_KEYS = ("approvers", "allowSelfApproval", "grants")  # their meaning: kgate.grants
_RULE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


@dataclass(frozen=True)
class PolicyProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class PolicyInvalid(ConfigError):
    """A policy file that cannot be used; ``problems`` lists every error with file:line."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "invalid policy"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"invalid policy: {first}{more}",
                         hint="run 'kgate policy check' to list every problem")


def parse_duration(text: Any) -> float | None:
    """Go-style ``90s``, ``15m``, ``1h30m`` (or a bare number of seconds) → seconds."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return float(text) if text >= 0 else None
    if not isinstance(text, str) or not text:
        return None
    m = _DURATION.match(text.strip())
    if not m or not any(m.groups()):
        return None
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return float(h * 3600 + mi * 60 + s)


class _Reader:
    """Walks the composed YAML nodes of one file, collecting problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[PolicyProblem] = []

    def error(self, node: Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(PolicyProblem(self.file, line, message))

    def value(self, node: Node) -> Any:
        return yaml.SafeLoader("").construct_object(node, deep=True)

    def mapping(self, node: Node, where: str, known: tuple[str, ...]
                ) -> dict[str, tuple[Node, Node]]:
        """Key → (key node, value node); unknown and duplicate keys reported."""
        if not isinstance(node, MappingNode):
            self.error(node, f"{where}: must be a mapping")
            return {}
        out: dict[str, tuple[Node, Node]] = {}
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, ScalarNode) else None
            label = f"{where}.{key}" if where else str(key)
            if key is None:
                self.error(knode, f"{where or 'policy'}: keys must be strings")
            elif key in out:
                self.error(knode, f"{label}: duplicate key")
            elif key not in known:
                hint = _closest(key, known)
                self.error(knode, f"{label}: unknown key"
                           + (f" (did you mean {hint!r}?)" if hint else
                              f" (known: {', '.join(known)})"))
            else:
                out[key] = (knode, vnode)
        return out

    def strings(self, node: Node, where: str) -> list[str] | None:
        value = self.value(node)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(node, f"{where}: must be a list of strings")
            return None
        return value

    def duration(self, node: Node, where: str, default: float) -> float:
        seconds = parse_duration(self.value(node))
        if seconds is None:
            self.error(node, f"{where}: not a duration (use e.g. 90s, 15m, 1h30m)")
            return default
        return seconds

    def boolean(self, node: Node, where: str) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            self.error(node, f"{where}: must be true or false")
            return False
        return value


def _closest(key: str, known: tuple[str, ...]) -> str | None:
    """The known key a typo most likely meant (case slips first)."""
    same = [k for k in known if k.lower() == key.lower()]
    if same:
        return same[0]
    found = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return found[0] if found else None


def _match(r: _Reader, node: Node, where: str) -> Match:
    keys = r.mapping(node, where, _MATCH_KEYS)
    kwargs: dict[str, Any] = {}
    for key, attr in _GLOB_KEYS.items():
        if key not in keys:
            continue
        vnode = keys[key][1]
        patterns = r.strings(vnode, f"{where}.{key}")
        if patterns is None:
            continue
        try:
            kwargs[attr] = GlobSet.of(patterns)
        except GlobError as err:
            r.error(vnode, f"{where}.{key}: {err}")
    if "dryRun" in keys:
        kwargs["dry_run"] = r.boolean(keys["dryRun"][1], f"{where}.dryRun")
    if "body" in keys:
        body = r.value(keys["body"][1])
        if not isinstance(body, dict):
            r.error(keys["body"][1], f"{where}.body: must be a mapping (a subset of the "
                                     "request object)")
        else:
            try:
                _check_body_globs(body)
            except GlobError as err:
                r.error(keys["body"][1], f"{where}.body: {err}")
            kwargs["body"] = body
    return Match(**kwargs)


def _check_body_globs(node: Any) -> None:
    if isinstance(node, dict):
        for v in node.values():
            _check_body_globs(v)
    elif isinstance(node, list):
        for v in node:
            _check_body_globs(v)
    elif isinstance(node, str):
        GlobSet.of((node,))


def _rules(r: _Reader, node: Node) -> tuple[Rule, ...]:
    if not isinstance(node, SequenceNode):
        r.error(node, "rules: must be a list of rules")
        return ()
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(node.value):
        where = f"rules[{i}]"
        keys = r.mapping(item, where, _RULE_KEYS)
        if not keys:
            continue
        name = r.value(keys["name"][1]) if "name" in keys else None
        if "name" not in keys:
            r.error(item, f"{where}: a rule needs a name")
        elif not isinstance(name, str) or not _RULE_NAME.match(name):
            r.error(keys["name"][1], f"{where}.name: {name!r} is not a rule name (lowercase "
                                     "letters, digits and '-')")
        elif name in seen:
            r.error(keys["name"][1], f"{where}.name: duplicate rule name {name!r} (first on "
                                     f"line {seen[name]})")
        else:
            where = f"rules[{i}] ({name})"
            seen[name] = keys["name"][1].start_mark.line + 1
        action = r.value(keys["action"][1]) if "action" in keys else None
        if "action" not in keys:
            r.error(item, f"{where}: a rule needs an action (allow, deny or review)")
        elif action not in ACTIONS:
            r.error(keys["action"][1], f"{where}.action: unknown action {action!r} (use "
                                       "allow, deny or review)")
        message = r.value(keys["message"][1]) if "message" in keys else ""
        if not isinstance(message, str):
            r.error(keys["message"][1], f"{where}.message: must be a string")
            message = ""
        match = _match(r, keys["match"][1], f"{where}.match") if "match" in keys else Match()
        if "match" not in keys:
            r.error(item, f"{where}: a rule needs a match (use {{}} to match everything)")
        if isinstance(name, str) and action in ACTIONS:
            rules.append(Rule(name, match, action, message, item.start_mark.line + 1))
    return tuple(rules)


def _grants(r: _Reader, keys: dict[str, tuple[Node, Node]]) -> dict[str, Any]:
    """``approvers``, ``allowSelfApproval`` and ``grants:`` as plain data, checked.

    Here: unknown and duplicate keys inside ``grants:`` (with a "did you mean"); the meaning of
    every value is ``kgate.grants.rules.check``'s, the same code ``kgate request`` builds its
    rules with, each complaint placed on the line of the key at fault.
    """
    if "grants" in keys and isinstance(keys["grants"][1], MappingNode):
        sub = r.mapping(keys["grants"][1], "grants", _GRANT_KEYS)
        if "autoApprove" in sub and isinstance(sub["autoApprove"][1], SequenceNode):
            for i, item in enumerate(sub["autoApprove"][1].value):
                if isinstance(item, MappingNode):
                    r.mapping(item, f"grants.autoApprove[{i}]", _AUTO_KEYS)
    values = {key: r.value(keys[key][1]) for key in _GRANT_TOP_KEYS if key in keys}
    for key, why in grant_rules.check(values):
        path = key.split(".")
        node = keys[path[0]][1]
        r.error(_find(node, path[1:]), f"{key}: {why}")
    return values


def _masking(r: _Reader, node: Node) -> MaskingSettings:
    try:
        return MaskingSettings.from_policy(r.value(node))
    except ValueError as err:
        r.error(_locate(node, str(err)), str(err))
        return MaskingSettings()


def _locate(node: Node, message: str) -> Node:
    """The node a ``masking.a.b[0].c: …`` message points at (best effort, else ``node``)."""
    return _find(node, message.split(":", 1)[0].split(".")[1:])


def _find(node: Node, path: list[str]) -> Node:
    """The node at ``path`` (``["autoApprove[0]", "maxTTL"]``) below ``node``; where the path
    leaves the document, the deepest node it reached (a missing key: the mapping lacking it)."""
    for part in path:
        key, _, index = part.partition("[")
        if isinstance(node, MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if found is None:
                return node
            node = found
        if index and isinstance(node, SequenceNode):
            i = int(index.rstrip("]")) if index.rstrip("]").isdigit() else -1
            if 0 <= i < len(node.value):
                node = node.value[i]
    return node


def parse_policy(text: str, file: str) -> Policy:
    """Validate ``text`` (the contents of ``file``) and build the policy, or ``PolicyInvalid``."""
    r = _Reader(file)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise PolicyInvalid([PolicyProblem(file, line, f"YAML syntax error: {err.problem}")]
                            ) from None
    except yaml.YAMLError as err:
        raise PolicyInvalid([PolicyProblem(file, 1, f"YAML error: {err}")]) from None
    if root is None:  # kgate proxy and kgate request alike: an empty file is a mistake
        raise PolicyInvalid([PolicyProblem(
            file, 1, "the policy file is empty (only whitespace or comments): remove it to "
                     "use the built-in default, or copy kgate/examples/policy.yaml into it")])
    keys = r.mapping(root, "", _TOP_KEYS)
    if "apiVersion" in keys and r.value(keys["apiVersion"][1]) != "kgate.dev/v1":
        r.error(keys["apiVersion"][1], "apiVersion: must be kgate.dev/v1")
    if "kind" in keys and r.value(keys["kind"][1]) != "Policy":
        r.error(keys["kind"][1], "kind: must be Policy")
    kwargs: dict[str, Any] = {}
    grants = _grants(r, keys)
    if isinstance(grants.get("approvers"), list):
        kwargs["approvers"] = tuple(grants["approvers"])
    if grants.get("allowSelfApproval") is True:
        kwargs["allow_self_approval"] = True
    if isinstance(grants.get("grants"), dict):
        kwargs["grants"] = grants["grants"]
    if "holdTimeout" in keys:
        kwargs["hold_timeout"] = r.duration(keys["holdTimeout"][1], "holdTimeout",
                                            DEFAULT_HOLD_TIMEOUT)
    if "holdReplayWindow" in keys:
        kwargs["hold_replay_window"] = r.duration(keys["holdReplayWindow"][1],
                                                  "holdReplayWindow", DEFAULT_REPLAY_WINDOW)
    if "holds" in keys:
        sub = r.mapping(keys["holds"][1], "holds", ("notify",))
        if "notify" in sub:
            kwargs["holds_notify"] = tuple(r.strings(sub["notify"][1], "holds.notify") or ())
    if "approvals" in keys:
        sub = r.mapping(keys["approvals"][1], "approvals", ("maxAuthAge",))
        if "maxAuthAge" in sub:
            kwargs["approvals_max_auth_age"] = r.duration(
                sub["maxAuthAge"][1], "approvals.maxAuthAge", DEFAULT_MAX_AUTH_AGE)
    if "rules" in keys:
        kwargs["rules"] = _rules(r, keys["rules"][1])
    if "masking" in keys:
        kwargs["masking"] = _masking(r, keys["masking"][1])
    if "builtins" in keys:
        sub = r.mapping(keys["builtins"][1], "builtins", ("disable",))
        disabled: set[str] = set()
        if "disable" in sub:
            vnode = sub["disable"][1]
            for name in r.strings(vnode, "builtins.disable") or []:
                g = BY_NAME.get(name)
                if g is None:
                    r.error(vnode, f"builtins.disable: unknown guardrail {name!r} (known: "
                                   f"{', '.join(n for n, x in BY_NAME.items() if x.can_disable)})")
                elif not g.can_disable:
                    r.error(vnode, f"builtins.disable: {name} cannot be disabled (it guards "
                                   "masking)")
                else:
                    disabled.add(name)
        kwargs["builtins_disabled"] = frozenset(disabled)
    if r.problems:
        raise PolicyInvalid(sorted(r.problems, key=lambda p: p.line))  # stable: file order
    raw = yaml.safe_load(text)
    return Policy(source=file, raw=raw, digest=hashlib.sha256(text.encode()).hexdigest(),
                  **kwargs)


def default_policy_text() -> str:
    """The built-in default policy (shipped in the wheel as ``kgate/examples/policy.yaml``)."""
    return (resources.files("kgate") / "examples" / "policy.yaml").read_text(encoding="utf-8")


def load_policy_file(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read policy {path}: {err.strerror or err}") from err
    except UnicodeDecodeError:
        raise PolicyInvalid([PolicyProblem(str(path), 1, "not UTF-8 text")]) from None
    return parse_policy(text, str(path))


def policy_path(explicit: Path | None = None, home: Path | None = None) -> Path | None:
    """Where the policy comes from: ``--policy``, ``$KGATE_POLICY``, ``$KGATE_HOME/policy.yaml``,
    else ``None`` (the built-in default)."""
    if explicit is not None:
        return explicit
    env = os.environ.get("KGATE_POLICY")
    if env:
        return Path(env).expanduser()
    if home is None:
        from kgate.config import kgate_home
        home = kgate_home()
    candidate = home / "policy.yaml"
    return candidate if candidate.exists() else None


def load_policy(explicit: Path | None = None, home: Path | None = None) -> Policy:
    """The effective policy, by the lookup order above."""
    path = policy_path(explicit, home)
    if path is None:
        return parse_policy(default_policy_text(), BUILT_IN)
    return load_policy_file(path)
