"""A key written twice: the decoder (like Go's) keeps the last value, the raw bytes hold both.

The walker looks at what the decoder kept; if the reply went out as its raw bytes whenever the
walk changed nothing, the first value — never looked at — would reach the agent (``kubectl get
--raw`` shows it). What goes out is what was walked, or bytes the raw-bytes check looked at
whole.
"""

from __future__ import annotations

import orjson

from kgate.proxy.masking import Masker, MaskingSettings

KEY = b"k" * 32
HIDDEN = "hunter2-hidden-by-a-duplicate"


def _masker() -> Masker:
    return Masker(MaskingSettings(), KEY)


def test_a_secret_under_a_key_written_twice_does_not_pass() -> None:
    body = ('{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","namespace":"d"},'
            f'"data":{{"DB_PASSWORD":"{HIDDEN}"}},"data":{{}}}}').encode()
    out = _masker().mask_json(body).body
    assert HIDDEN.encode() not in out
    assert orjson.loads(out)["data"] == {}


def test_in_a_watch_event_and_in_an_item_of_a_big_list() -> None:
    event = ('{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"c"},'
             f'"data":{{"password":"{HIDDEN}"}},"data":{{"x":"y"}}}}}}\n').encode()
    masker = _masker()
    stream = masker.watch_stream()
    out = stream.feed(event) + stream.close()
    assert HIDDEN.encode() not in out and orjson.loads(out)["object"]["data"] == {"x": "y"}

    pad = "p" * 2000
    items = [orjson.dumps({"kind": "ConfigMap", "metadata": {"name": f"c{i}"},
                           "data": {"pad": pad}}) for i in range(600)]
    items[300] = (f'{{"kind":"ConfigMap","metadata":{{"name":"dup"}},"data":{{"token":"{HIDDEN}"}}'
                  ',"data":{"pad":"x"}}').encode()
    body = b'{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":[' \
        + b",".join(items) + b"]}"
    assert len(body) > 1024 * 1024   # the item-by-item path
    whole = masker.mask_json(body).body
    batches = masker.mask_json_stream(body)
    assert batches is not None
    streamed = b"".join(batches)
    for out in (whole, streamed):
        assert HIDDEN.encode() not in out
        doc = orjson.loads(out)
        assert doc["items"][300]["data"] == {"pad": "x"} and len(doc["items"]) == 600


def test_a_clean_big_list_goes_out_as_it_came_in_one_piece() -> None:
    items = [orjson.dumps({"kind": "ConfigMap", "metadata": {"name": f"c{i}"},
                           "data": {"mode": "fast", "pad": "p" * 2000}}) for i in range(600)]
    body = b'{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":[' \
        + b",".join(items) + b"]}"
    batches = _masker().mask_json_stream(body)
    assert batches is not None
    assert list(batches) == [body] and batches.masked == 0
