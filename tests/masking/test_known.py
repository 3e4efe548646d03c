"""Known values: Secret values seen in structured places are masked again as bare text."""

from __future__ import annotations

from typing import Any

import pytest

from kgate.proxy.masking import PLACEHOLDER_RE, Masker, MaskingSettings
from kgate.proxy.masking import known as known_module
from kgate.proxy.masking.known import KnownValues

from .conftest import KEY, dumps, loads, secret, unb64

PASSWORD = "xTr4-Appl1ed-P4ss-9Zk"


def seen(masker: Masker, *objs: Any) -> list[Any]:
    return [loads(masker.mask_json(dumps(o)).body) for o in objs]


def log(masker: Masker, text: str) -> str:
    stream = masker.text_stream()
    return (stream.feed(text.encode()) + stream.close()).decode()


def exec_out(masker: Masker, *chunks: bytes) -> bytes:
    frames = masker.exec_stream()
    out = [f for c in chunks for f in frames.feed(b"\x01" + c)] + frames.flush()
    return b"".join(f[1:] for f in out)


def test_secret_data_value_is_masked_later_as_bare_text(masker: Masker) -> None:
    [obj] = seen(masker, secret("db", {"password": PASSWORD}))
    placeholder = unb64(obj["data"]["password"])
    out = log(masker, f"{PASSWORD}\nconnected as app with {PASSWORD}!\n")
    assert PASSWORD not in out
    assert out == f"{placeholder}\nconnected as app with {placeholder}!\n"


def test_exec_output_without_newline_split_across_frames(masker: Masker) -> None:
    seen(masker, secret("db", string_data={"password": PASSWORD}))
    out = exec_out(masker, PASSWORD[:7].encode(), PASSWORD[7:].encode())
    assert PLACEHOLDER_RE.fullmatch(out.decode())


@pytest.mark.parametrize("name", ["DB_PASSWORD", "SERVICE_TOKEN", "STRIPE_API_KEY"])
def test_secret_named_env_values_are_learned(masker: Masker, name: str) -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "env": [{"name": name, "value": "EnvValue-77x"},
                              {"name": "LOG_LEVEL", "value": "warn1234"}]}]}}
    seen(masker, pod)
    assert "EnvValue-77x" not in log(masker, "echo EnvValue-77x\n")
    assert log(masker, "level warn1234\n") == "level warn1234\n"


def test_last_applied_string_data_is_learned(masker: Masker) -> None:
    applied = dumps(secret("a", string_data={"api-key": "ak_corpus_7Yt5Rw2Q"})).decode()
    cm = {"kind": "ConfigMap", "metadata": {"name": "c", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": applied}}, "data": {}}
    seen(masker, cm)
    assert "ak_corpus_7Yt5Rw2Q" not in log(masker, "key ak_corpus_7Yt5Rw2Q\n")


def test_plain_words_under_neutral_keys_are_not_learned(masker: Masker) -> None:
    seen(masker, secret("db", {"username": "payments", "host": "db.prod-payments.svc",
                               "password": "payments"}))
    # "payments" is learned only because it also sits under ``password``.
    assert "payments" not in log(masker, "payments-worker started\n")
    other = Masker(MaskingSettings(), KEY)
    seen(other, secret("db", {"username": "payments", "host": "db.prod-payments.svc"}))
    text = "payments-worker on db.prod-payments.svc started\n"
    assert log(other, text) == text


def test_multi_line_values_are_learned_line_by_line(masker: Masker) -> None:
    value = "line-one-Abc123\nline-two-Def456\n"
    seen(masker, secret("s", {"config": value}))
    out = log(masker, "x line-two-Def456 y\n")
    assert "line-two-Def456" not in out and out.startswith("x kgate:masked:")
    cert = "-----BEGIN CERTIFICATE-----\nMIIBdemoCertBody0123\n-----END CERTIFICATE-----\n"
    seen(masker, secret("t", {"tls.crt": cert}))
    assert "-----BEGIN CERTIFICATE-----" in log(masker, cert)


def test_idempotent_when_a_known_value_looks_like_placeholder_hex(masker: Masker) -> None:
    placeholder = masker.placeholder("anything")
    hex_part = placeholder.rsplit(":", 1)[1]
    seen(masker, secret("s", string_data={"token": hex_part}))
    assert log(masker, f"value {placeholder}\n") == f"value {placeholder}\n"
    assert PLACEHOLDER_RE.fullmatch(log(masker, hex_part))


def test_learn_primes_without_returning_anything(masker: Masker) -> None:
    assert masker.learn(dumps({"kind": "SecretList", "items": [
        secret("a", {"password": PASSWORD}), secret("b", {"token": "Tok-1234-abcd"})]})) == 2
    assert PASSWORD not in log(masker, f"{PASSWORD}\n")


def test_sessions_do_not_share_what_they_learned(masker: Masker) -> None:
    seen(masker, secret("db", {"password": PASSWORD}))
    other = Masker(MaskingSettings(), KEY)
    assert log(other, f"{PASSWORD}\n") == f"{PASSWORD}\n"


def test_known_values_apply_even_with_detectors_off() -> None:
    masker = Masker(MaskingSettings(detectors=()), KEY)
    assert log(masker, f"{PASSWORD}\n") == f"{PASSWORD}\n"
    seen(masker, secret("db", {"password": PASSWORD}))
    assert PASSWORD not in log(masker, f"{PASSWORD}\n")


def test_non_ascii_text() -> None:
    k = KnownValues()
    k.add("Pässwort-123x", sensitive_key=True)
    k.add("abcDEF123456")
    text = "é abcDEF123456 — Pässwort-123x"
    assert [text[s:e] for s, e in k.find(text)] == ["abcDEF123456", "Pässwort-123x"]


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(known_module, "MAX_VALUES", 10)
    k = KnownValues()
    for i in range(25):
        k.add(f"value-{i:04d}x")
    assert len(k) <= 10
    assert k.find("value-0024x") and not k.find("value-0000x")


def test_deferred_values_are_settled_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(known_module, "MAX_PENDING_CHARS", 100)
    k = KnownValues(lambda key: key == "password")
    k.defer("password", "plainword")            # sensitive key: learned though no digit
    k.defer("username", "plainword2x")          # credential-like: learned
    k.defer("username", "payments")             # neither: not learned
    k.defer(None, "EnvValue-1")                 # secret-named env
    k.defer("token", "not base64!", base64=True)
    assert k._pending                            # nothing settled yet: cheap while walking
    k.defer("x", "y" * 200)                      # over the character budget: settled now
    assert not k._pending
    assert len(k) == 3
    assert k.find("a plainword b") and not k.find("payments")


# -- pinned (primed) values ------------------------------------------------------------------

@pytest.mark.parametrize("value", ["abcd", "lettersonly", "1234567890", "x" * 5000,
                                   "sp ace d", "\udcff\udcfebinary\udc80"])
def test_pinned_values_of_any_shape_are_found(value: str) -> None:
    k = KnownValues()
    k.pin([value])
    text = f"before {value} after"
    spans = k.find(text)
    assert spans and text[spans[0][0]:spans[0][1]] == value.strip()


def test_values_shorter_than_the_pin_minimum_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    k = KnownValues()
    k.pin(["abc", "  ab  ", ""])
    assert not k and not k.find("abc abc ab")


def test_pins_survive_a_flood_and_end_with_release(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(known_module, "MAX_VALUES", 100)
    k = KnownValues()
    k.add("learned-1value")
    pin = k.pin(["Pr1med-For-This-Stream", "line one\nline two2"])
    for i in range(1000):                       # the agent floods the bounded set
        k.add(f"flood-{i:05d}-value")
    assert not k.find("learned-1value")         # an ordinary value was evicted …
    text = "Pr1med-For-This-Stream line one line two2"
    assert [text[s:e] for s, e in k.find(text)] == ["Pr1med-For-This-Stream", "line one",
                                                    "line two2"]   # … pinned ones were not
    pin.release()
    pin.release()                                # idempotent
    assert not k.find(text)


def test_a_value_pinned_twice_stays_until_both_release() -> None:
    k = KnownValues()
    first, second = k.pin(["Shared-Value-1"]), k.pin(["Shared-Value-1"])
    first.release()
    assert k.find("Shared-Value-1")
    second.release()
    assert not k.find("Shared-Value-1")


def test_long_values_are_found_in_pieces() -> None:
    value = "".join(f"{i:05d}" for i in range(2000))   # 10,000 characters, one line
    k = KnownValues()
    k.pin([value])
    piece = value[3000:6000]                            # what a cut line might show
    assert k.find(piece)


def test_partial_suffix_finds_the_start_of_a_known_value() -> None:
    k = KnownValues()
    k.pin(["Zq8-no-context-at-all"])
    text = "connecting with Zq8-no-con"
    assert k.partial_suffix(text) == text.index("Zq8")
    assert k.partial_suffix("connecting with nothing") == len("connecting with nothing")
    assert k.partial_suffix("ends with Zq8") == len("ends with Zq8")  # < PIN_MIN_LEN
