"""The raw-bytes pre-check (``clean.py``): what it passes as bytes, the walker would not have
changed; what could hold a secret it refuses, and the full path masks it."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgate.proxy.masking import Masker, MaskingSettings
from kgate.proxy.masking.clean import NAME_ANCHORS, env_anchors
from kgate.proxy.masking.keys import key_is_sensitive
from kgate.proxy.masking.secretdata import LAST_APPLIED
from kgate.sandbox.registry import default_registry
from tests.fixtures.kube import KubectlRunner
from tests.fixtures.proxy import Proxied

from .conftest import KEY, b64, secret

# -- realistic clean objects pass -------------------------------------------------------------


def clean_pod(i: int = 0) -> dict[str, Any]:
    """A pod with every secret-looking *name* that holds nothing: secretKeyRef, tolerations,
    a projected service-account token, a volume of a Secret."""
    return {
        "metadata": {"name": f"web-{i}", "namespace": "shop", "uid": f"uid-{i}",
                     "labels": {"app": "web"},
                     "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {
            "containers": [{
                "name": "web", "image": "registry.example.com/shop/web:1.42.0",
                "args": ["--port=8080", "--log-format=json", "--tokenizer=basic"],
                "env": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {
                        "name": "db-secret", "key": "password"}}},
                    {"name": "LOG_FILE", "value": "/var/log/app.log"},
                ],
                "volumeMounts": [{"name": "app-secrets", "mountPath": "/etc/app"}],
            }],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
            "volumes": [
                {"name": "app-secrets", "secret": {"secretName": "app-secrets"}},
                {"name": "kube-api-access", "projected": {"sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}},
            ],
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def clean_configmap(i: int = 0) -> dict[str, Any]:
    return {"metadata": {"name": f"cfg-{i}", "namespace": "default"},
            "data": {"LOG_LEVEL": "info", "app.properties": f"server.port=8080\nretries={i}\n",
                     "keyboard.layout": "us"}}


@pytest.mark.parametrize(("doc", "kind"), [
    (clean_pod(), "Pod"),
    ({"kind": "Pod", "apiVersion": "v1", **clean_pod()}, None),
    (clean_configmap(), "ConfigMap"),
    ({"kind": "ConfigMap", "apiVersion": "v1", **clean_configmap()}, None),
    ({"kind": "Event", "type": "Normal", "reason": "Pulled", "message": "image pulled",
      "involvedObject": {"kind": "Pod", "name": "web-1"}}, None),
])
def test_realistic_clean_objects_pass(masker: Masker, doc: dict[str, Any],
                                      kind: str | None) -> None:
    for raw in (orjson.dumps(doc), json.dumps(doc, indent=2).encode()):
        assert masker._clean(raw, kind)
        assert masker.mask_json(raw).body is raw


def test_clean_json_strings_and_last_applied_pass(masker: Masker) -> None:
    """A JSON config value and a last-applied annotation with nothing secret in them are
    walked as documents by the walker, and found clean here."""
    pod = {"kind": "Pod", **clean_pod()}
    pod["metadata"]["annotations"][LAST_APPLIED] = json.dumps(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0"},
         "spec": {"containers": [{"name": "web", "image": "web:1"}]}}) + "\n"
    raw = orjson.dumps(pod)
    assert masker._clean(raw, None)
    config = cm({"config.json": json.dumps({"listen": ":8080", "upstreams": ["a", "b"]}),
                 "list.json": "[1, 2]", "brace": "{ not json"})
    assert masker._clean(config, None)
    assert masker.mask_json(config).masked == 0


def test_clean_after_secrets_were_learned(masker: Masker) -> None:
    masker.mask_json(orjson.dumps(secret("db", {"password": "hunter2-Zq9"})))
    raw = orjson.dumps(clean_configmap())   # holds \n escapes: looked up string by string
    assert masker._clean(raw, "ConfigMap")


# -- each way to hold a secret is refused, and masked by the full path --------------------------

AKIA = "AKIAIOSFODNN7EXAMPLE"
PW = "hunter2-Zq9xW"


def cm(data: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"kind": "ConfigMap", "apiVersion": "v1",
                         "metadata": {"name": "c", "namespace": "default"}, "data": data,
                         **extra})


def pod_env(*env: dict[str, Any], args: list[str] | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "app", "image": "app:1", "env": list(env)}
    if args is not None:
        c["args"] = args
    return {"kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [c]}}


ATTACKS: dict[str, tuple[bytes, str]] = {
    "detector anchor in a value": (cm({"x": f"id {AKIA}"}), AKIA),
    "detector anchor in a map key": (cm({AKIA: "x"}), AKIA),
    "u-escaped anchor": (cm({"x": f"id {AKIA}"}).replace(b"AKIA", b"\\u0041KIA"), AKIA),
    "slash-escaped url": (cm({"x": f"https://u:{PW}@db.example.com/x"}).replace(
        b"/", b"\\/"), PW),
    "sensitive key": (cm({"DB_PASSWORD": PW}), PW),
    "sensitive key spelled with an escaped quote": (cm({'DB_"PASSWORD': PW}), PW),
    "sensitive key, pretty-printed": (json.dumps(json.loads(cm({"db_password": PW})),
                                                 indent=3).encode(), PW),
    "env pair": (orjson.dumps(pod_env({"name": "DB_PASSWORD", "value": PW})), PW),
    "env pair, value before name, pretty": (json.dumps(pod_env(
        {"value": PW, "name": "MY_SECRET"}), indent=1).encode(), PW),
    "env pair by the env regex only": (orjson.dumps(pod_env({"name": "STRIPEKEYX",
                                                             "value": PW})), PW),
    "env pair with KELVIN SIGN": (json.dumps(pod_env({"name": "API_\u212aEY", "value": PW}),
                                             ensure_ascii=False).encode(), PW),
    "env pair with a long s": (json.dumps(pod_env({"name": "MY_\u017fECRET", "value": PW}),
                                          ensure_ascii=False).encode(), PW),
    "flag with a value": (orjson.dumps(pod_env(args=["--db-password=" + PW])), PW),
    "flag then value": (orjson.dumps(pod_env(args=["--token", PW])), PW),
    "list under a sensitive key": (cm({}, passwords=[PW]), PW),
    "nested JSON string": (cm({"config.json": json.dumps({"password": PW})}), PW),
    "last-applied annotation": (orjson.dumps({"kind": "Pod", "metadata": {
        "name": "p", "annotations": {LAST_APPLIED: "not json " + PW}}}), PW),
    "last-applied annotation that is not JSON": (orjson.dumps({"kind": "Pod", "metadata": {
        "name": "p", "annotations": {LAST_APPLIED: '{"a": ' + PW}}}), PW),
    "last-applied Secret": (orjson.dumps({"kind": "Pod", "metadata": {
        "name": "p", "annotations": {LAST_APPLIED: json.dumps(
            {"kind": "Secret", "stringData": {"x": PW}}) + "\n"}}}), PW),
    "JSON in JSON in a string": (cm({"c": json.dumps({"inner": json.dumps(
        {"token": PW}), "x": 1})}), PW),
    "env pair in a JSON string": (cm({"c": json.dumps([{"name": "API_KEY", "value": PW}])}),
                                  PW),
    "Secret": (orjson.dumps(secret("s", {"x": PW})), b64(PW)),
    "kindless Secret": (orjson.dumps(secret("s", {"x": PW}, kind=False)), b64(PW)),
    "binaryData": (cm({}, binaryData={"blob": b64(f"key={AKIA}")}), b64(f"key={AKIA}")),
    "Table row object": (orjson.dumps({"kind": "Table", "rows": [
        {"cells": ["s"], "object": secret("s", {"x": PW}, kind=False)}]}), b64(PW)),
    "watch-event shape": (orjson.dumps({"type": "ADDED", "object": secret(
        "s", {"x": PW}, kind=False)}), b64(PW)),
    "SecretList item without type": (orjson.dumps({"kind": "SecretList", "items": [
        {"metadata": {"name": "s"}, "data": {"x": b64(PW)}}]}), b64(PW)),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_is_refused_and_masked(masker: Masker, name: str) -> None:
    raw, planted = ATTACKS[name]
    assert not masker._clean(raw, None)
    out = masker.mask_json(raw)
    assert out.masked > 0 and planted.encode() not in out.body


def test_custom_env_regex_names_are_judged_with_the_regex() -> None:
    m = Masker(MaskingSettings(secret_env_names=r"^MYAPP_"), KEY)
    raw = orjson.dumps(pod_env({"name": "MYAPP_DSN", "value": PW}))
    assert not m._clean(raw, None)
    assert PW.encode() not in m.mask_json(raw).body
    # a name the regex does not match, in the same shape, is clean
    assert m._clean(orjson.dumps(pod_env({"name": "OTHER_DSN", "value": "db:5432"})), None)


@pytest.mark.parametrize("value", ["ab\"cd-ef-gh-1", "ab\\cd-ef-gh-2", "tab\tsep-value-3",
                                   "plain-known-value-4"])
def test_known_value_anywhere_is_refused(masker: Masker, value: str) -> None:
    masker.mask_json(orjson.dumps(secret("s", {"x": value})))
    raw = orjson.dumps({"kind": "Pod", "metadata": {"name": "p", "labels": {"copy": value}}})
    assert not masker._clean(raw, None)
    assert orjson.dumps(value)[1:-1] not in masker.mask_json(raw).body


def _big_list(items: list[dict[str, Any]], kind: str = "ConfigMapList") -> bytes:
    body = orjson.dumps({"kind": kind, "apiVersion": "v1", "metadata": {}, "items": items})
    assert len(body) >= 1024 * 1024
    return body


def _fillers(n: int) -> list[dict[str, Any]]:
    return [{"metadata": {"name": f"f{i}", "namespace": "default"},
             "data": {"pad": "p" * 700, "i": str(i)}} for i in range(n)]


def test_known_value_only_in_a_later_item_of_a_big_list(masker: Masker) -> None:
    """An early ConfigMap copies a Secret value; the Secret comes later in the List."""
    items: list[dict[str, Any]] = _fillers(1500)
    items[3]["data"]["copied"] = f"the value is {PW}"
    items.append({"kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
                  "type": "Opaque", "data": {"x": b64(PW)}})
    out = masker.mask_json(_big_list(items))
    assert PW.encode() not in out.body and b64(PW).encode() not in out.body
    assert orjson.loads(out.body)["items"][7] == items[7]


def test_value_learned_in_an_earlier_item_is_masked_in_a_later_one(masker: Masker) -> None:
    items: list[dict[str, Any]] = _fillers(1500)
    items[5] = pod_env({"name": "DB_PASSWORD", "value": PW})
    items[900]["metadata"]["labels"] = {"copy": PW}
    out = masker.mask_json(_big_list(items, "List"))
    assert PW.encode() not in out.body


def test_big_clean_list_is_returned_as_is(masker: Masker) -> None:
    body = _big_list([clean_configmap(i) | {"pad": "x" * 400} for i in range(2500)])
    assert masker.mask_json(body).body is body


# -- the anchors cover every sensitive name ------------------------------------------------------

_ASCII_NAMES = st.text(st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")), max_size=24)
_WORDS = ["pass", "Word", "PWD", "secret", "Token", "key", "API", "auth", "sig", "Cred", "ENTIALS",
          "bearer", "private", "access", "name", "file", "ref", "max", "count", "id", "x", "_"]


@settings(max_examples=400, deadline=None)
@given(st.one_of(_ASCII_NAMES, st.lists(st.sampled_from(_WORDS), max_size=5).map("".join)))
def test_every_sensitive_name_holds_an_anchor(name: str) -> None:
    low = name.lower()
    has = any(a in low for a in NAME_ANCHORS)
    assert has or not key_is_sensitive(name)
    env = env_anchors(MaskingSettings().secret_env_names)
    assert env is not None
    if re.search(MaskingSettings().secret_env_names, name):
        assert any(a in low for a in env)


# -- property: clean means the walker changes nothing ------------------------------------------

_FRAGMENTS = [
    "x", "web", "name", "value", "password", "DB_PASSWORD", "token", "key", "secret",
    "secretKeyRef", "tokenizer", "api_key", "--db-password=", "--token", "-v", AKIA,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "https://u:pw@h/x", '"', "\\",
    "\n", " ", "é", "\u212a", "\u017fecret", "API_\u212aEY", "{", "[", '{"password":"p4ss-xyz"}',
    "[1]", PW, "known-value-77", "proxy_pass", "Secret", "data", "type", "kind", "=", ":",
    '{"name":"DB_PASSWORD","value":"x"}', '{"kind":"Secret","data":{"a":"YWJjZGVm"}}',
    '["--token","abc"]', '{"a":"b"}', '{"c":"{\\"password\\":\\"p4ss-xyz\\"}"}',
]
_TEXT = st.lists(st.sampled_from(_FRAGMENTS), max_size=4).map("".join)
_KEYS = st.one_of(_TEXT, st.sampled_from(["name", "value", "type", "data", "stringData", "kind",
                                          "binaryData", "args", "env", "items", LAST_APPLIED,
                                          "metadata", "object", "rows", "cells"]))


def _values(depth: int) -> st.SearchStrategy[Any]:
    leaf = st.one_of(_TEXT, st.integers(-5, 5), st.booleans(), st.none())
    if depth == 0:
        return leaf
    inner = _values(depth - 1)
    pair = st.fixed_dictionaries({"name": _TEXT, "value": _TEXT})
    return st.one_of(leaf, pair, st.lists(inner, max_size=4),
                     st.dictionaries(_KEYS, inner, max_size=4))


_OBJECTS = st.dictionaries(_KEYS, _values(3), max_size=6)
_KINDS = st.sampled_from([None, "Pod", "ConfigMap", "Secret", "List", "Table", "PodList",
                          "SecretList", "Event", "WatchEvent"])


@st.composite
def documents(draw: st.DrawFn) -> tuple[Any, str | None]:
    """A Kubernetes-shaped object, List, Table or watch event, and the kind a List implies."""
    obj = draw(_OBJECTS)
    shape = draw(st.sampled_from(["object", "list", "table", "event", "item"]))
    kind = draw(_KINDS)
    if kind is not None and draw(st.booleans()):
        obj["kind"] = kind
    if shape == "list":
        return {"kind": draw(st.sampled_from(["List", "PodList", "SecretList"])),
                "items": [obj, draw(_OBJECTS)]}, None
    if shape == "table":
        return {"kind": "Table", "rows": [{"cells": draw(st.lists(_TEXT, max_size=3)),
                                           "object": obj}]}, None
    if shape == "event":
        return {"type": "ADDED", "object": obj}, None
    if shape == "item":
        return obj, draw(_KINDS)
    return obj, None


def _encode(doc: Any, style: int) -> bytes:
    if style == 0:
        return orjson.dumps(doc)
    if style == 1:
        return json.dumps(doc, indent=2, ensure_ascii=False).encode()
    return json.dumps(doc).encode()   # ensure_ascii: \\u escapes


def _masker(learned: list[str], env: str | None) -> Masker:
    m = Masker(MaskingSettings() if env is None else MaskingSettings(secret_env_names=env), KEY)
    for v in learned:
        m.mask_json(orjson.dumps(secret("learned", {"v": v})))
    return m


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.integers(0, 2),
       st.lists(st.sampled_from([PW, "known-value-77", 'quo"ted-val', "x\\y-zzzz",
                                 "p4ss-xyz"]), max_size=2),
       st.sampled_from([None, r"^DB_", r"(?i)(pass|secret|token|key|credential)"]))
def test_clean_means_the_walker_changes_nothing(doc_kind: tuple[Any, str | None], style: int,
                                                learned: list[str], env: str | None) -> None:
    doc, kind = doc_kind
    raw = _encode(doc, style)
    checker = _masker(learned, env)
    if not checker._clean(raw, kind):
        return
    walker = _masker(learned, env)._objects
    decoded = orjson.loads(raw)
    n = walker.document(decoded, kind, raw=raw)
    assert n == 0 and decoded == orjson.loads(raw), raw


# -- end to end: a big List through the proxy and kubectl ----------------------------------------


def test_big_clean_list_through_the_proxy_is_byte_identical_but_the_planted_item(
        proxied: Proxied, kubectl: KubectlRunner) -> None:
    """3,000 clean ConfigMaps and one with a planted secret in the middle: kubectl reads the
    clean ones byte for byte as the API server wrote them, the planted one masked."""
    configmaps = default_registry().preferred("", "configmaps")

    def seed() -> None:
        for i in range(3001):
            data = {"app.properties": f"server.port=8080\nretries={i}\n", "pad": "p" * 300}
            if i == 1500:
                data["db.password"] = PW
            proxied.sandbox.store.create(configmaps, "default", {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"cfg-{i:04d}", "labels": {"app": "shop"}}, "data": data})

    proxied.sandbox.run(seed)
    path = "/api/v1/namespaces/default/configmaps"
    direct = kubectl("get", "--raw", path, kubeconfig=proxied.upstream_kubeconfig,
                     timeout=120).stdout.encode()
    masked = kubectl("get", "--raw", path, kubeconfig=proxied.kubeconfig,
                     timeout=120).stdout.encode()
    assert len(direct) >= 1024 * 1024 and PW.encode() in direct
    assert PW.encode() not in masked
    before, after = _items(direct), _items(masked)
    assert len(before) == len(after) > 3000
    changed = [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if b != a]
    assert len(changed) == 1
    planted = orjson.loads(after[changed[0]])
    assert planted["metadata"]["name"] == "cfg-1500"
    assert planted["data"]["db.password"].startswith("kgate:masked:")


def _items(body: bytes) -> list[bytes]:
    top = msgspec.json.decode(body, type=dict[str, msgspec.Raw])
    return [bytes(r) for r in msgspec.json.decode(top["items"], type=list[msgspec.Raw])]


def test_watch_events_clean_pass_and_secret_ones_are_masked(masker: Masker) -> None:
    clean_event = orjson.dumps({"type": "ADDED", "object": {"kind": "ConfigMap",
                                                            **clean_configmap()}}) + b"\n"
    dirty_event = orjson.dumps({"type": "MODIFIED", "object": pod_env(
        {"name": "DB_PASSWORD", "value": PW})}) + b"\n"
    stream = masker.watch_stream()
    out = stream.feed(clean_event + dirty_event) + stream.close()
    assert out.startswith(clean_event)
    assert PW.encode() not in out and out.count(b"\n") == 2


def test_every_one_of_many_secret_items_in_a_row_is_masked(masker: Masker) -> None:
    """The per-element check backs off after refusals; skipped elements are still walked."""
    items: list[dict[str, Any]] = _fillers(1500)
    for i in range(100, 160):
        items[i]["data"]["db.password"] = f"row-{i}-{PW}"
    out = masker.mask_json(_big_list(items))
    assert PW.encode() not in out.body
    back = orjson.loads(out.body)["items"]
    assert all(back[i]["data"]["db.password"].startswith("kgate:masked:")
               for i in range(100, 160))
    assert back[1000] == items[1000]


@pytest.mark.parametrize("shift", [-2, 0, 3, -len(AKIA)])
def test_anchor_across_a_scan_window_boundary_is_found(masker: Masker, shift: int) -> None:
    """A big body is scanned in windows of 256 KiB: an anchor across or at an edge counts."""
    window = 1 << 18
    probe = cm({"a": "x" * 10 + " " + AKIA})
    pad = window + shift - probe.index(AKIA.encode()) + 10
    body = cm({"a": "x" * pad + " " + AKIA, "b": "y" * 100_000})
    assert body.index(AKIA.encode()) == window + shift
    assert not masker._clean(body)
    assert AKIA.encode() not in masker.mask_json(body).body


def test_anchor_dense_text_is_left_to_the_walker(masker: Masker) -> None:
    body = cm({"a": "AKIA " * 200_000})
    assert not masker._clean(body)
    assert masker.mask_json(body).masked == 0   # (nothing secret: the walker finds nothing)
