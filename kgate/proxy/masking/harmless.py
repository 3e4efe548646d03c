"""The structurally harmless fields: the one list of places the object walker does not treat as
free text.

Every other string in a reply — every value and every map key — is suspect: the detectors and
the sensitive-key rule run over it. The fields named here hold identifiers, enums, timestamps and
references that Kubernetes itself writes or validates (a name must be a DNS label, a uid is a
UUID, a phase is an enum), so running the detectors over them would only cost time and garble
output. They are *not* exempt from the known-values check: an agent can make the API server copy
a secret into ``metadata.name`` or a label (a JSON patch ``copy``, a dry-run), so values known to
be secret are looked for here too.

Each set applies to the dicts found under a given parent key (``metadata`` → ``META``, elements
of ``ownerReferences`` → ``OWNER_REFERENCE`` …); ``ANYWHERE`` applies to every dict. ``SUBTREES``
name keys whose whole value is structural (``managedFields`` holds field *names*; a Table's
``columnDefinitions`` describe columns).
"""

from __future__ import annotations

#: Keys whose string value is harmless in any dict of any object.
ANYWHERE: frozenset[str] = frozenset({
    "kind", "apiVersion",
    # image references (registry/repo:tag@digest) and what the runtime reports back
    "image", "imageID", "containerID",
    # timestamps (RFC 3339, written by the server or controllers)
    "creationTimestamp", "deletionTimestamp", "lastTransitionTime", "lastProbeTime",
    "lastHeartbeatTime", "lastUpdateTime", "lastScheduleTime", "lastSuccessfulTime",
    "firstTimestamp", "lastTimestamp", "eventTime", "startTime", "completionTime",
    "startedAt", "finishedAt", "expirationTimestamp", "renewTime", "acquireTime",
    # enum-like policy fields
    "imagePullPolicy", "restartPolicy", "dnsPolicy", "terminationMessagePolicy",
    "protocol", "qosClass", "operator", "effect",
    "resourceVersion", "uid",
})

#: ``metadata`` of any object (and of pod templates).
META: frozenset[str] = ANYWHERE | frozenset({
    "name", "generateName", "namespace", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "selfLink",
    # a List's own metadata: the server's opaque paging token
    "continue",
})

#: Elements of ``metadata.ownerReferences``.
OWNER_REFERENCE: frozenset[str] = ANYWHERE | frozenset({"apiVersion", "kind", "name", "uid"})

#: Elements of any ``conditions`` list (pods, nodes, workloads, custom resources).
CONDITION: frozenset[str] = ANYWHERE | frozenset({"type", "status", "reason"})

#: A ``status`` block: its phase is an enum.
STATUS: frozenset[str] = ANYWHERE | frozenset({"phase"})

#: Which harmless set applies to a dict found under (or in a list under) this parent key.
BY_PARENT: dict[str, frozenset[str]] = {
    "metadata": META,
    "ownerReferences": OWNER_REFERENCE,
    "conditions": CONDITION,
    "status": STATUS,
}

#: Keys whose whole value is structural: only the known-values check runs inside.
SUBTREES: frozenset[str] = frozenset({"managedFields", "columnDefinitions"})
