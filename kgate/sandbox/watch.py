"""Watch: a chunked stream of ``{"type", "object"}`` lines, as kube-apiserver sends them.

A watch resumes from a ``resourceVersion`` (the store's history replays what followed; ``410
Expired`` when it is too old), or starts with the current objects as ADDED events when
``sendInitialEvents=true`` (then a bookmark marks their end). Selectors apply per event, and an
object that starts or stops matching shows up as ADDED or DELETED, so a filtered watch stays
consistent. Idle streams get BOOKMARK events when asked, and end at ``timeoutSeconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from kgate.sandbox import tables
from kgate.sandbox.paths import Target
from kgate.sandbox.reads import selector_filter
from kgate.sandbox.registry import ResourceType
from kgate.sandbox.store import Store, WatchEvent
from kgate.sandbox.wire import JSON, flag, wants_table

Obj = dict[str, Any]
DEFAULT_WATCH_SECONDS = 1800
BOOKMARK_EVERY = 10.0


class _Visibility:
    """Which events the watcher sees through its name and selectors.

    Like kube-apiserver's filtered watch: a change that moves an object into the selection is
    ADDED, out of it DELETED; whether it matched before is judged on the event's old object.
    """

    def __init__(self, name: str | None, keep: Callable[[Mapping[str, Any]], bool]) -> None:
        self.name = name
        self.keep = keep

    def __call__(self, event: WatchEvent) -> WatchEvent | None:
        if self.name is not None and event.obj["metadata"].get("name") != self.name:
            return None
        now = self.keep(event.obj)
        if event.type != "MODIFIED":
            return event if now else None
        was = event.old is not None and self.keep(event.old)
        if now and not was:
            return WatchEvent(event.rv, event.group, event.resource, "ADDED", event.obj)
        if was and not now:
            return WatchEvent(event.rv, event.group, event.resource, "DELETED", event.obj)
        return event if now else None


class _Encoder:
    """Watch lines; in Table form only the first event carries column definitions."""

    def __init__(self, rt: ResourceType, store: Store, table: bool, include: str) -> None:
        self.rt = rt
        self.store = store
        self.table = table
        self.include = include
        self.headers_sent = False

    def event(self, event: WatchEvent) -> bytes:
        obj = copy.deepcopy(event.obj)
        obj["apiVersion"] = self.rt.group_version
        if self.table:
            obj = tables.to_table(self.rt.kind, [obj], resource_version=str(event.rv),
                                  include_object=self.include, headers=not self.headers_sent)
            self.headers_sent = True
        return orjson.dumps({"type": event.type, "object": obj}) + b"\n"

    def bookmark(self, annotations: dict[str, str] | None = None) -> bytes:
        meta: Obj = {"resourceVersion": self.store.resource_version}
        if annotations:
            meta["annotations"] = annotations
        return orjson.dumps({"type": "BOOKMARK", "object": {
            "kind": self.rt.kind, "apiVersion": self.rt.group_version, "metadata": meta}}) + b"\n"


async def serve_watch(request: web.Request, store: Store, target: Target) -> web.StreamResponse:
    """GET with ``watch=true`` (or under ``/watch/``): stream events until timeout or close."""
    rt = target.rt
    visible = _Visibility(target.name, selector_filter(request, rt))
    initial = request.query.get("sendInitialEvents", "").lower() == "true"
    since = request.query.get("resourceVersion")
    watcher, backlog = store.watch(rt.group, rt.name, target.namespace,
                                   None if initial else since)
    encode = _Encoder(rt, store, wants_table(request),
                      request.query.get("includeObject", "Metadata"))
    bookmarks = flag(request, "allowWatchBookmarks")
    timeout = float(request.query.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
    resp = web.StreamResponse()
    resp.content_type = JSON
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        for event in backlog:
            shown = visible(event)
            if shown is not None:
                await resp.write(encode.event(shown))
        if initial:
            await resp.write(encode.bookmark({"k8s.io/initial-events-end": "true"}))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                item = await asyncio.wait_for(watcher.queue.get(), min(left, BOOKMARK_EVERY))
            except TimeoutError:
                if bookmarks:
                    await resp.write(encode.bookmark())
                continue
            if item is None:
                break
            shown = visible(item)
            if shown is not None:
                await resp.write(encode.event(shown))
    finally:
        store.unwatch(watcher)
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp
