"""Reading a session log back: records for ``show``, and Kubernetes audit Events for a SIEM.

``to_event_list`` maps each request record to an ``audit.k8s.io/v1`` ``Event`` (stage
``ResponseComplete``) so tools that read Kubernetes audit logs read kgate's without a new parser:
``user`` is the human the session ran for, with the session and grant in ``user.extra``;
``impersonatedUser`` is whom the agent tried to impersonate (always refused); kgate's decision
and rule are in ``annotations`` (``authorization.k8s.io/decision`` too, as kube-apiserver's
authorizer writes it).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from kgate.audit import chain
from kgate.status import REASONS

_NAMESPACE = uuid.UUID("6f1d3c59-7a8e-4c1b-9a43-2f7c1d2b9e10")


def records(path: Path) -> Iterator[dict[str, Any]]:
    """Every whole record of a log, parsed (a torn last line, or one that is not a JSON object,
    is skipped)."""
    return (record for _, record in chain.whole_lines(path) if record)


def follow(path: Path, poll: float = 0.2) -> Iterator[dict[str, Any]]:
    """Records as they are appended, until the end record (``show --follow``)."""
    with open(path, "rb") as f:
        partial = b""
        while True:
            line = f.readline()
            if not line:
                time.sleep(poll)
                continue
            partial += line
            if not partial.endswith(b"\n"):
                continue
            try:
                record = orjson.loads(partial)
            except orjson.JSONDecodeError:
                record = {}
            partial = b""
            if isinstance(record, dict):
                yield record
                if record.get("kind") == "end":
                    return


def rfc3339(t: float | None) -> str:
    if t is None:
        return ""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_event_list(path: Path) -> dict[str, Any]:
    """The session's request records as an ``audit.k8s.io/v1`` ``EventList``."""
    start: dict[str, Any] = {}
    items: list[dict[str, Any]] = []
    for record in records(path):
        if record.get("kind") == "start":
            start = record
        elif record.get("kind") == "request":
            items.append(_event(start, record))
    return {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {},
            "items": items}


def _event(start: dict[str, Any], r: dict[str, Any]) -> dict[str, Any]:
    session = str(start.get("session", ""))
    t = float(r.get("t", 0.0))
    extra: dict[str, list[str]] = {"kgate.dev/session": [session]}
    if start.get("grant"):
        extra["kgate.dev/grant"] = [str(start["grant"])]
    status = int(r.get("status") or 0)
    decision = str(r.get("decision", ""))
    response: dict[str, Any] = {"metadata": {}, "code": status}
    if status >= 400:
        response.update(status="Failure", reason=REASONS.get(status, "Unknown"))
        if r.get("message"):
            response["message"] = str(r["message"])
    elif status:
        response["status"] = "Success"
    annotations = {"kgate.dev/decision": decision,
                   "authorization.k8s.io/decision": "allow" if decision == "allow" else "forbid",
                   "kgate.dev/record": str(r.get("seq"))}
    for key in ("rule", "hold", "approval", "recording", "command"):
        if r.get(key):
            annotations[f"kgate.dev/{key}"] = str(r[key])
    if r.get("rule"):
        annotations["authorization.k8s.io/reason"] = f"kgate rule {r['rule']}"
    if r.get("masked"):
        annotations["kgate.dev/masked"] = str(r["masked"])
    event: dict[str, Any] = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1",
        "level": "Request" if isinstance(r.get("body"), dict) else "Metadata",
        "auditID": str(uuid.uuid5(_NAMESPACE, f"{session}/{r.get('seq')}")),
        "stage": "ResponseComplete",
        "requestURI": str(r.get("path", "")),
        "verb": str(r.get("verb") or str(r.get("method", "")).lower()),
        "user": {"username": str(start.get("identity", "")), "extra": extra},
        "sourceIPs": ["127.0.0.1"],
        "responseStatus": response,
        "requestReceivedTimestamp": rfc3339(t),
        "stageTimestamp": rfc3339(t + float(r.get("ms") or 0.0) / 1000),
        "annotations": annotations,
    }
    if r.get("command"):
        event["userAgent"] = f"kubectl ({r['command']})"
    if r.get("impersonate"):
        event["impersonatedUser"] = {"username": str(r["impersonate"])}
    if r.get("resource"):
        ref = {"resource": r["resource"], "namespace": r.get("namespace"),
               "name": r.get("name"), "apiGroup": r.get("group"),
               "apiVersion": r.get("version"), "subresource": r.get("subresource")}
        event["objectRef"] = {k: str(v) for k, v in ref.items() if v}
    if isinstance(r.get("body"), dict) and not r["body"].get("truncated"):
        event["requestObject"] = r["body"]
    return event
