"""Masking parsed Kubernetes objects in every response shape, in place.

Shapes: a single object, a ``…List`` (items often carry no ``kind``: it is implied by the list's
kind), a generic ``List`` of mixed kinds, a ``Table`` (``rows[].object`` is a full object with
``includeObject=Object`` or ``PartialObjectMetadata`` by default; cells are checked by the
detectors), a watch event ``{type, object}`` whose object may itself be a Table, and ``Status``.

Only places that can hold secrets are walked, which keeps big Lists fast: Secret
``data``/``stringData``; ``metadata.annotations`` of any kind and of pod templates (the
last-applied annotation is parsed and masked inside); ConfigMap ``data``/``binaryData``; Event
``message``/``note``; ``Status.message``; and container ``env``/``command``/``args`` wherever a
pod spec lives (pods, ``spec.template`` of workloads, CronJob ``spec.jobTemplate``,
PodTemplate ``template``). ``metadata.managedFields`` carries field *names* only and is left alone.

An object with no ``kind`` that has a ``type`` string and ``data``/``stringData`` is treated as a
Secret (fail closed: a kindless Secret must not slip through as "unknown").
"""

from __future__ import annotations

import binascii
import re
from typing import Any

import msgspec

from .bulk import dumps
from .detectors import TextScanner
from .known import KnownValues
from .placeholders import Placeholders, is_placeholder

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_LAST_APPLIED_CACHE = 4096


class ObjectMasker:
    """Walks decoded JSON documents and masks them in place, returning how many values changed."""

    def __init__(self, env_names: str, placeholders: Placeholders, scanner: TextScanner,
                 known: KnownValues | None = None) -> None:
        self._env = re.compile(env_names)
        self._ph = placeholders
        self._scan = scanner
        self._known = known          # where Secret values are remembered for text streams
        self._last_applied: dict[str, tuple[str, int]] = {}

    # -- entry points ------------------------------------------------------------------------

    def document(self, doc: Any, kind_hint: str | None = None) -> int:
        """Mask any decoded response document (object, List, Table, watch event, array)."""
        if isinstance(doc, dict):
            return self._document(doc, kind_hint)
        if isinstance(doc, list):
            return sum(self.document(d, kind_hint) for d in doc)
        return 0

    def item(self, doc: Any, kind: str | None) -> int:
        """One element of a List's ``items`` (kind implied by the list when it has none)."""
        return self._document(doc, kind) if isinstance(doc, dict) else 0

    def row(self, row: Any) -> int:
        """One element of a Table's ``rows``."""
        return self._rows([row])

    def text(self, value: str) -> tuple[str, int]:
        """Detectors over one free-text value."""
        return self._scan.mask(value)

    # -- shapes ------------------------------------------------------------------------------

    def _document(self, d: dict[str, Any], kind_hint: str | None) -> int:
        kind = d.get("kind")
        if not isinstance(kind, str):
            kind = kind_hint
        if kind == "Table":
            return self._table(d)
        if kind == "WatchEvent" or (kind is None and "type" in d and isinstance(
                d.get("object"), dict) and "metadata" not in d):
            return self._document(d["object"], None)
        items = d.get("items")
        if isinstance(items, list) and (kind is None or kind.endswith("List")):
            item_kind = kind[:-4] if kind and kind != "List" else None
            n = 0
            for item in items:
                if isinstance(item, dict):
                    ik = item.get("kind")
                    n += self._document(item, ik if isinstance(ik, str) else item_kind)
            return n
        return self._object(d, kind)

    def _table(self, table: dict[str, Any]) -> int:
        rows = table.get("rows")
        return self._rows(rows) if isinstance(rows, list) else 0

    def _rows(self, rows: list[Any]) -> int:
        n = 0
        scan = self._scan.mask
        for row in rows:
            if not isinstance(row, dict):
                continue
            obj = row.get("object")
            if isinstance(obj, dict):
                n += self._document(obj, None)
            cells = row.get("cells")
            if isinstance(cells, list) and self._scan.might_match(
                    "\n".join(c for c in cells if isinstance(c, str))):
                for i, cell in enumerate(cells):
                    if isinstance(cell, str) and cell:
                        new, k = scan(cell)
                        if k:
                            cells[i] = new
                            n += k
        return n

    def _object(self, o: dict[str, Any], kind: str | None) -> int:
        n = 0
        md = o.get("metadata")
        if isinstance(md, dict):
            ann = md.get("annotations")
            if isinstance(ann, dict) and ann:
                n += self._annotations(ann)
        if kind == "Secret" or (kind is None and _looks_like_secret(o)):
            n += self._secret(o)
        elif kind == "ConfigMap" or (kind is None and isinstance(o.get("data"), dict)):
            n += self._configmap(o)
        elif kind == "Event":
            n += self._text_fields(o, ("message", "note"))
        elif kind == "Status":
            n += self._text_fields(o, ("message",))
        n += self._pod_specs(o)
        return n

    # -- what holds secrets ------------------------------------------------------------------

    def _secret(self, o: dict[str, Any]) -> int:
        n = 0
        data = o.get("data")
        if isinstance(data, dict):
            of_b64 = self._ph.of_base64
            for k, v in data.items():
                if isinstance(v, str) and v:
                    nv = of_b64(v)
                    if nv is not v:
                        data[k] = nv
                        n += 1
                        if self._known is not None:
                            self._known.defer(k, v, base64=True)
        sdata = o.get("stringData")
        if isinstance(sdata, dict):
            of_text = self._ph.of_text
            for k, v in sdata.items():
                if isinstance(v, str) and v and not is_placeholder(v):
                    sdata[k] = of_text(v)
                    n += 1
                    if self._known is not None:
                        self._known.defer(k, v)
        return n

    def _configmap(self, o: dict[str, Any]) -> int:
        n = 0
        data = o.get("data")
        scan = self._scan.mask
        if isinstance(data, dict):
            for k, v in data.items():
                if isinstance(v, str) and v:
                    new, c = scan(v)
                    if c:
                        data[k] = new
                        n += c
        # binaryData: decode, scan as Latin-1 (bytes map 1:1), re-encode only if something hit.
        bdata = o.get("binaryData")
        if isinstance(bdata, dict):
            for k, v in bdata.items():
                if not isinstance(v, str) or not v:
                    continue
                try:
                    raw = binascii.a2b_base64(v, strict_mode=True)
                except (binascii.Error, ValueError):
                    continue
                new, c = scan(raw.decode("latin-1"))
                if c:
                    enc = new.encode("latin-1", "replace")
                    bdata[k] = binascii.b2a_base64(enc, newline=False).decode()
                    n += c
        return n

    def _text_fields(self, o: dict[str, Any], fields: tuple[str, ...]) -> int:
        n = 0
        for f in fields:
            v = o.get(f)
            if isinstance(v, str) and v:
                new, c = self._scan.mask(v)
                if c:
                    o[f] = new
                    n += c
        return n

    def _annotations(self, ann: dict[str, Any]) -> int:
        n = 0
        scan = self._scan.mask
        for k, v in ann.items():
            if not isinstance(v, str) or not v:
                continue
            if k == LAST_APPLIED:
                new, c = self._last_applied_value(v)
            else:
                new, c = scan(v)
            if c:
                ann[k] = new
                n += c
        return n

    def _last_applied_value(self, value: str) -> tuple[str, int]:
        """Mask inside the annotation with the same rules; unparseable → one placeholder."""
        cached = self._last_applied.get(value)
        if cached is not None:
            return cached
        try:
            doc = msgspec.json.decode(value)
        except (msgspec.DecodeError, RecursionError):
            doc = None
            result = (value, 0) if is_placeholder(value) else (self._ph.of_text(value), 1)
        if doc is not None:
            n = self.document(doc)
            if n:
                text = dumps(doc).decode()
                if value.endswith("\n"):
                    text += "\n"
                result = (text, n)
            else:
                result = (value, 0)
        if len(self._last_applied) >= _LAST_APPLIED_CACHE:
            self._last_applied.clear()
        self._last_applied[value] = result
        return result

    def _pod_specs(self, o: dict[str, Any]) -> int:
        n = 0
        spec = o.get("spec")
        if isinstance(spec, dict):
            n += self._pod_spec(spec)
            n += self._template(spec.get("template"))
            jt = spec.get("jobTemplate")
            if isinstance(jt, dict):
                jspec = jt.get("spec")
                if isinstance(jspec, dict):
                    n += self._template(jspec.get("template"))
        n += self._template(o.get("template"))  # kind: PodTemplate
        return n

    def _template(self, t: Any) -> int:
        """A pod template: its annotations (copied onto every pod) and its pod spec."""
        n = 0
        if isinstance(t, dict):
            md = t.get("metadata")
            if isinstance(md, dict):
                ann = md.get("annotations")
                if isinstance(ann, dict) and ann:
                    n += self._annotations(ann)
            spec = t.get("spec")
            if isinstance(spec, dict):
                n += self._pod_spec(spec)
        return n

    def _pod_spec(self, spec: dict[str, Any]) -> int:
        n = 0
        for field in _CONTAINER_LISTS:
            containers = spec.get(field)
            if isinstance(containers, list):
                for c in containers:
                    if isinstance(c, dict):
                        n += self._container(c)
        return n

    def _container(self, c: dict[str, Any]) -> int:
        """Secret-named literal env values → placeholder; other values and argv → detectors."""
        n = 0
        texts: list[str] = []   # everything the detectors should look at, checked at once
        env = c.get("env")
        if isinstance(env, list):
            for e in env:
                if not isinstance(e, dict):
                    continue
                value = e.get("value")
                if not isinstance(value, str) or not value or is_placeholder(value):
                    continue
                name = e.get("name")
                if isinstance(name, str) and self._env.search(name):
                    e["value"] = self._ph.of_text(value)
                    n += 1
                    if self._known is not None:
                        self._known.defer(None, value)
                else:
                    texts.append(value)
        for field in ("command", "args"):
            argv = c.get(field)
            if isinstance(argv, list):
                texts.extend(a for a in argv if isinstance(a, str))
        if texts and self._scan.might_match("\n".join(texts)):
            n += self._container_text(c)
        return n

    def _container_text(self, c: dict[str, Any]) -> int:
        n = 0
        for e in c.get("env") or ():
            if isinstance(e, dict) and isinstance(e.get("value"), str):
                name = e.get("name")
                if isinstance(name, str) and self._env.search(name):
                    continue
                new, k = self._scan.mask(e["value"])
                if k:
                    e["value"] = new
                    n += k
        for field in ("command", "args"):
            argv = c.get(field)
            if isinstance(argv, list):
                for i, arg in enumerate(argv):
                    if isinstance(arg, str) and arg:
                        new, k = self._scan.mask(arg)
                        if k:
                            argv[i] = new
                            n += k
        return n


def _looks_like_secret(o: dict[str, Any]) -> bool:
    return isinstance(o.get("type"), str) and (
        isinstance(o.get("data"), dict) or isinstance(o.get("stringData"), dict)
    )
