"""``$KGATE_HOME/config.toml``: read it, and replace one table of it atomically.

Python reads TOML (``tomllib``) but cannot write it, and kgate's file is small and flat (top-level
keys, tables such as ``[oidc]`` and ``[cluster]``), so a tiny writer for strings, numbers,
booleans, lists of those and nested tables is enough. Writes go to a temporary 0600 file that is
renamed over the old one, so a crash or a refused login never leaves a half-written config.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kgate.config import write_private
from kgate.errors import ConfigError

CONFIG_NAME = "config.toml"


def config_path(home: Path) -> Path:
    return home / CONFIG_NAME


def read_config(home: Path) -> dict[str, Any]:
    """The whole file as a dict (empty if there is none); a syntax error names the file."""
    path = config_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from err
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: {err}", hint="fix or remove the file") from err


def update_table(home: Path, name: str, values: Mapping[str, Any] | None) -> None:
    """Replace table ``name`` with ``values`` (``None`` removes it), keeping everything else."""
    doc = read_config(home)
    if values is None:
        doc.pop(name, None)
    else:
        doc[name] = {k: v for k, v in values.items() if v is not None}
    write_config(home, doc)


def write_config(home: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` atomically (temporary file + rename)."""
    path = config_path(home)
    text = dumps(doc)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_private(tmp, text.encode("utf-8"))
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {err.strerror}") from err


def _value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v, where) for v in value) + "]"
    raise ConfigError(f"cannot write {type(value).__name__} at {where} to {CONFIG_NAME}")


def _key(key: str) -> str:
    bare = key and all(c.isalnum() or c in "-_" for c in key) and key.isascii()
    return key if bare else json.dumps(key)


def dumps(doc: Mapping[str, Any], prefix: str = "") -> str:
    """Serialise a mapping as TOML: scalars first, then one ``[table]`` per nested mapping."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in doc.items():
        if isinstance(value, Mapping):
            tables.append((prefix + _key(key), value))
        else:
            lines.append(f"{_key(key)} = {_value(value, prefix + key)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for name, table in tables:
        out += ("\n" if out else "") + f"[{name}]\n" + dumps(table, name + ".")
    return out
