"""The four PATCH flavours kube-apiserver accepts, as pure functions on JSON values.

* JSON merge patch (RFC 7386, ``application/merge-patch+json``): maps merge, ``null`` deletes,
  everything else replaces.
* Strategic merge patch (``application/strategic-merge-patch+json``): like merge patch, but lists
  of objects that Kubernetes declares mergeable (containers, env, ports, volumes …) merge by their
  key, and the ``$patch``, ``$retainKeys``, ``$setElementOrder/…`` and
  ``$deleteFromPrimitiveList/…`` directives are honoured. The merge keys come from a small
  field-name table rather than the OpenAPI schema — enough for the built-in kinds kubectl edits.
* JSON patch (RFC 6902, ``application/json-patch+json``).
* Server-side apply (``application/apply-patch+yaml``): simplified here to "create if absent,
  else strategic-merge the applied configuration into the live object".
"""

from __future__ import annotations

import copy
from typing import Any

JSON = Any


class PatchError(ValueError):
    """A patch that cannot be applied (answered 422 or 400 by the server)."""


# Field name -> merge key, for lists Kubernetes merges by key (patchStrategy=merge).
MERGE_KEYS: dict[str, str] = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "hostAliases": "ip", "ownerReferences": "uid",
    "conditions": "type", "topologySpreadConstraints": "topologyKey", "resourceClaims": "name",
    "readinessGates": "conditionType", "ports": "containerPort",
}
# Lists of scalars whose strategy is "merge" (union) rather than replace.
MERGED_PRIMITIVE_LISTS = frozenset({"finalizers"})


def merge_patch(target: JSON, patch: JSON) -> JSON:
    """Apply an RFC 7386 JSON merge patch; returns a new value."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key(field: str, items: list[Any]) -> str | None:
    key = MERGE_KEYS.get(field)
    if field == "ports":
        # Container ports merge by containerPort, Service ports by port.
        for item in items:
            if isinstance(item, dict) and "containerPort" not in item and "port" in item:
                return "port"
    return key


def strategic_merge(original: JSON, patch: JSON) -> JSON:
    """Apply a strategic merge patch to ``original``; returns a new value."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(original, dict):
        original = {}
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    result = copy.deepcopy(original)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for key in list(result):
            if key not in retain and key not in patch:
                del result[key]
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list) and isinstance(value, list):
                result[name] = [v for v in result[name] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = value
    for name, order in orders.items():
        if isinstance(result.get(name), list) and isinstance(order, list):
            result[name] = _apply_order(name, result[name], order)
    return result


def _merge_list(field: str, original: JSON, patch: list[Any]) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip_directives(p) for p in patch
                if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    if not isinstance(original, list):
        original = []
    key = _merge_key(field, patch + original)
    if key and all(isinstance(p, dict) for p in patch):
        result = copy.deepcopy(original)
        for item in patch:
            if item.get("$patch") == "delete":
                result = [r for r in result
                          if not (isinstance(r, dict) and r.get(key) == item.get(key))]
                continue
            for i, existing in enumerate(result):
                if isinstance(existing, dict) and existing.get(key) == item.get(key):
                    result[i] = strategic_merge(existing, item)
                    break
            else:
                result.append(_strip_directives(item))
        return result
    if field in MERGED_PRIMITIVE_LISTS:
        return list(original) + [p for p in patch if p not in original]
    return [_strip_directives(p) for p in patch]


def _apply_order(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = _merge_key(field, items)

    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [ident(o) for o in order]
    ranked = sorted(range(len(items)), key=lambda i: (
        wanted.index(ident(items[i])) if ident(items[i]) in wanted else len(wanted) + i))
    return [items[i] for i in ranked]


def _strip_directives(value: JSON) -> JSON:
    """Remove ``$…`` directive keys from a value that is inserted rather than merged."""
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


# ---- RFC 6902 JSON patch ----------------------------------------------------------------------
def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: JSON, parts: list[str]) -> JSON:
    for part in parts:
        if isinstance(doc, dict):
            if part not in doc:
                raise PatchError(f"doc is missing path: /{'/'.join(parts)}")
            doc = doc[part]
        elif isinstance(doc, list):
            try:
                doc = doc[int(part)]
            except (ValueError, IndexError):
                raise PatchError(f"invalid index {part!r}") from None
        else:
            raise PatchError(f"doc is missing path: /{'/'.join(parts)}")
    return doc


def _add(doc: JSON, parts: list[str], value: JSON) -> JSON:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                index = int(last)
            except ValueError:
                raise PatchError(f"invalid index {last!r}") from None
            if not 0 <= index <= len(parent):
                raise PatchError(f"index {index} out of bounds")
            parent.insert(index, value)
    else:
        raise PatchError(f"doc is missing path: /{'/'.join(parts)}")
    return doc


def _remove(doc: JSON, parts: list[str]) -> JSON:
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    try:
        if isinstance(parent, dict):
            value = parent.pop(last)
        elif isinstance(parent, list):
            value = parent.pop(int(last))
        else:
            raise KeyError(last)
    except (KeyError, ValueError, IndexError):
        raise PatchError(f"unable to remove nonexistent key: {last}") from None
    return value


def json_patch(doc: JSON, operations: JSON) -> JSON:
    """Apply an RFC 6902 JSON patch; returns a new document."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid operation {op!r}")
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _walk(doc, parts)
            if parts:
                _remove(doc, parts)
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, source))
            if kind == "move":
                _remove(doc, source)
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise PatchError(f"testing value {op['path']} failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc


def apply_config(live: JSON | None, config: JSON) -> JSON:
    """Server-side apply, simplified: the config merged into the live object (or as-is)."""
    if live is None:
        return _strip_directives(copy.deepcopy(config))
    return strategic_merge(live, config)
