"""docs/cli.md is the commands' own help, rendered: regenerate it when a command changes."""

from __future__ import annotations

from pathlib import Path

from kgate.cli.reference import render

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_cli_reference_matches_the_commands() -> None:
    assert DOC.read_text() == render(), (
        "docs/cli.md is out of date: run python -m kgate.cli.reference > docs/cli.md")


def test_reference_names_every_command_and_the_agent_environment() -> None:
    text = render()
    for command in ("kgate exec", "kgate proxy", "kgate sandbox", "kgate doctor"):
        assert f"## `{command}`" in text
    assert "`AWS_*`" in text and "`KUBECONFIG`" in text
