"""``kgate policy check|eval|show`` and ``kgate proxy --policy`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.proxy import Proxied

REPO = Path(__file__).resolve().parents[2]

BAD_FILES = {
    "misspelt-key.yaml": ("apiVersion: kgate.dev/v1\nkind: Policy\nholdTimout: 60s\n",
                          "misspelt-key.yaml:3: holdTimout: unknown key"),
    "wrong-action.yaml": ("rules:\n  - name: a\n    match: {verbs: [get]}\n    action: block\n",
                          "wrong-action.yaml:4: rules[0] (a).action: unknown action 'block'"),
    "broken-regex.yaml": ("masking:\n  custom:\n    - {name: t, regex: 'tok_('}\n",
                          "broken-regex.yaml:3: masking.custom[0].regex: not a valid regular "
                          "expression"),
    "duplicate-rule.yaml": ("rules:\n  - {name: a, match: {}, action: deny}\n"
                            "  - {name: a, match: {}, action: allow}\n",
                            "duplicate-rule.yaml:3: rules[1].name: duplicate rule name 'a'"),
    "yaml-syntax.yaml": ("rules:\n  - name: x\n   action: [\n",
                         "yaml-syntax.yaml:3: YAML syntax error"),
    "grant-rules.yaml": ("kind: Policy\ngrants:\n  autoApprove:\n    - {namespaces: [dev-*], "
                         "verbs: [get, steal]}\n",
                         "grant-rules.yaml:4: grants.autoApprove[0].verbs: unknown verb(s) steal"),
}


def _kgate(*args: str, home: Path, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    base.update(KGATE_HOME=str(home), HOME=str(home), NO_COLOR="1", COLUMNS="200")
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "kgate", *args], capture_output=True,
                          text=True, env=base, cwd=REPO, timeout=120, check=False)


@pytest.fixture
def bad_dir(tmp_path: Path) -> Path:
    for name, (text, _) in BAD_FILES.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_check_names_file_and_line_and_exits_3(name: str, bad_dir: Path) -> None:
    proc = _kgate("policy", "check", str(bad_dir / name), home=bad_dir / "home")
    assert proc.returncode == 3
    expected = str(bad_dir / BAD_FILES[name][1])
    assert f"error: {expected}" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_proxy_refuses_to_start_on_a_bad_policy(name: str, bad_dir: Path,
                                                proxied: Proxied) -> None:
    out = bad_dir / "cli-agent" / "kubeconfig"
    proc = _kgate("proxy", "--kubeconfig", str(proxied.upstream_kubeconfig), "--policy",
                  str(bad_dir / name), "--kubeconfig-out", str(out), home=bad_dir / "home")
    assert proc.returncode == 3
    assert str(bad_dir / BAD_FILES[name][1]) in proc.stderr, proc.stderr
    assert not out.exists() and "Traceback" not in proc.stderr


def test_proxy_refuses_a_bad_policy_found_through_the_environment(bad_dir: Path,
                                                                   proxied: Proxied) -> None:
    proc = _kgate("proxy", "--kubeconfig", str(proxied.upstream_kubeconfig),
                  home=bad_dir / "home",
                  env={"KGATE_POLICY": str(bad_dir / "wrong-action.yaml")})
    assert proc.returncode == 3 and "wrong-action.yaml:4:" in proc.stderr


def test_check_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("holdTimout: 60s\nrules:\n  - {name: a, match: {}, action: block}\n"
                    "  - {name: a, match: {}, action: deny}\n")
    proc = _kgate("policy", "check", str(path), home=tmp_path / "home")
    assert proc.returncode == 3
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert [line.split(":")[2] for line in lines] == ["1", "3", "4"]


def test_check_default_and_show(tmp_path: Path) -> None:
    ok = _kgate("policy", "check", home=tmp_path / "home")
    assert ok.returncode == 0 and "built-in: ok" in ok.stdout
    shown = json.loads(_kgate("policy", "show", "--json", home=tmp_path / "home").stdout)
    assert shown["source"] == "built-in"
    assert [b["name"] for b in shown["builtins"]][:4] == [
        "mask-nonresource", "mask-exec-output", "no-placeholder-writes", "no-secret-copy"]
    assert shown["rules"][0] == {
        "name": "no-namespace-delete", "action": "deny", "message":
        "agents may not delete namespaces",
        "match": {"verbs": ["delete", "deletecollection"], "resources": ["namespaces"]}}


def test_eval_explains(tmp_path: Path) -> None:
    proc = _kgate("policy", "eval", "--verb", "delete", "--resource", "namespaces", "--name",
                  "prod", home=tmp_path / "home")
    assert proc.returncode == 0
    assert proc.stdout.startswith("DENY  DELETE /api/v1/namespaces/prod")
    assert "rule: no-namespace-delete" in proc.stdout
    assert "kgate: denied by rule no-namespace-delete: agents may not delete namespaces" in (
        proc.stdout)
    bad = _kgate("policy", "eval", "--verb", "get", "--resource", "pods", home=tmp_path / "h")
    assert bad.returncode != 0 and "needs --name" in bad.stderr
