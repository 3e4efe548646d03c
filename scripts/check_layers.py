"""Import-direction check (REVIEW debt 8): run by ``make lint``.

The layering of DESIGN.md and STYLE.md, made checkable: the I/O engine never imports a stage or
the masking engine, stages do not import each other, lower layers never import the CLI, and the
proxy never imports aiohttp (the sandbox, a fake API server, does). Each
rule lists the imports that break it today on purpose, so the list can only shrink.
"""

from __future__ import annotations

import ast
import sys
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "kgate"

#: (modules the rule applies to, imports they must not make, why)
RULES: list[tuple[str, str, str]] = [
    ("kgate.proxy.engine", "kgate.proxy.stages*", "the I/O engine must not drag a stage along"),
    ("kgate.proxy.channels", "kgate.proxy.stages*", "the I/O engine must not drag a stage along"),
    ("kgate.proxy.spdy", "kgate.proxy.stages*", "the I/O engine must not drag a stage along"),
    ("kgate.proxy.lean*", "kgate.proxy.stages*", "the I/O engine must not drag a stage along"),
    ("kgate.proxy.lean*", "kgate.proxy.masking*", "the I/O engine does not mask"),
    ("kgate.proxy*", "aiohttp*", "the proxy's path has no aiohttp (only the sandbox uses it)"),
    ("kgate.proxy.stages.*", "kgate.proxy.stages.*", "stages do not import each other"),
    ("kgate.proxy.masking*", "kgate.proxy.stages*", "the masking engine is below the stages"),
    ("kgate.policy*", "kgate.proxy.stages*", "policy is below the proxy"),
    ("kgate.policy*", "kgate.proxy.pipeline", "policy is below the proxy"),
    ("kgate.grants*", "kgate.proxy*", "grants are below the proxy"),
    ("kgate.audit*", "kgate.proxy*", "the session log is below the proxy"),
    ("kgate.*", "kgate.cli*", "only the CLI (and the entry point) imports the CLI"),
]

#: Imports that break a rule today and are known debts: (module, import).
KNOWN: set[tuple[str, str]] = {
    ("kgate.proxy.stages.masking", "kgate.proxy.stages.body"),
    ("kgate.entry", "kgate.cli"),
    ("kgate.entry", "kgate.cli.app"),
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n.split(".")[0] in ("kgate", "aiohttp")}


def violations() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module(path)
        for imported in sorted(_imports(path)):
            if imported == module or (module, imported) in KNOWN:
                continue
            for applies, forbidden, why in RULES:
                if module.startswith("kgate.cli") or not fnmatch(module, applies):
                    continue
                if fnmatch(imported, forbidden) or imported == forbidden.rstrip(".*"):
                    found.append(f"{path.relative_to(ROOT.parent)}: imports {imported} ({why})")
    return found


def main() -> int:
    found = violations()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
