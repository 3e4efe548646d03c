"""Content negotiation: how requests are decoded and responses encoded on the wire.

kubectl asks for transformations in the Accept header (``as=Table;g=meta.k8s.io`` before plain
JSON) and sends bodies as JSON, YAML or Kubernetes protobuf. Responses are always JSON (also when
kubectl says it prefers protobuf), which every Kubernetes client accepts. Request options that
change how a write is carried out (``dryRun``) are read here too, so each verb handler gets them
the same way.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from kgate import protojson
from kgate.sandbox.apierrors import ApiError, bad_request
from kgate.status import status

JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
TABLE_CONTENT_TYPE = f"{JSON};as=Table;v=v1;g=meta.k8s.io"
META_FORMS = ("Table", "PartialObjectMetadata", "PartialObjectMetadataList")


def json_response(body: Any, status_code: int = 200, content_type: str = JSON) -> web.Response:
    """Serialise ``body`` with orjson."""
    resp = web.Response(body=orjson.dumps(body), status=status_code)
    resp.headers["Content-Type"] = content_type
    return resp


def error_response(err: ApiError) -> web.Response:
    """The ``Status`` body of an ``ApiError``."""
    return json_response(err.body, err.code)


def table_response(table: Any, code: int = 200) -> web.Response:
    """A ``meta.k8s.io/v1 Table`` with the content type kube-apiserver labels it with."""
    return json_response(table, code, content_type=TABLE_CONTENT_TYPE)


def not_found_path() -> web.Response:
    """404 for a path that names nothing (kube's message, empty details)."""
    return json_response(status(404, "the server could not find the requested resource",
                                details={}), 404)


def method_not_allowed() -> web.Response:
    """405 for a verb the path does not support."""
    return json_response(status(405, "the server does not allow this method on the requested "
                                "resource", details={}), 405)


def meta_form(request: web.Request) -> str | None:
    """``Table``, ``PartialObjectMetadata`` or ``PartialObjectMetadataList`` if the client asks
    for that ``meta.k8s.io`` transformation (kubectl lists it before plain JSON), else None."""
    accept = request.headers.get("Accept", "")
    for part in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in part.split(";")[1:])
        if params.get("g") == "meta.k8s.io" and params.get("as") in META_FORMS:
            return params["as"]
    return None


def wants_table(request: web.Request) -> bool:
    """Whether the client asked for ``meta.k8s.io/v1 Table`` responses."""
    return meta_form(request) == "Table"


async def read_body(request: web.Request) -> Any:
    """Decode a request body by Content-Type: JSON, YAML or Kubernetes protobuf."""
    raw = await request.read()
    ctype = request.content_type
    if ctype == PROTOBUF:
        try:
            return protojson.decode_object(raw)
        except ValueError as err:
            raise ApiError(415, f"the body of the request could not be decoded: {err}",
                           reason="UnsupportedMediaType") from err
    if not raw:
        raise bad_request("the body of the request was empty")
    try:
        if ctype.endswith("yaml"):
            return yaml.safe_load(raw)
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as err:
        raise bad_request(f"the body of the request could not be decoded: {err}") from err


def flag(request: web.Request, name: str) -> bool:
    """A boolean query parameter (``watch=true``, ``watch=1``)."""
    return request.query.get(name, "").lower() in ("true", "1")


def dry_run(request: web.Request) -> bool:
    """``dryRun=All`` in the query; any other value is refused like kube-apiserver does."""
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise bad_request(f'Invalid dry run value: "{v}"; supported values are "All"')
    return bool(values)


async def delete_dry_run(request: web.Request) -> bool:
    """``dryRun`` may come as a query parameter or inside a DeleteOptions body.

    Fails closed: a body the sandbox cannot read (protobuf DeleteOptions, which no kubectl
    command sends, or malformed JSON) is refused rather than risking a real delete that was
    meant as a dry run.
    """
    wanted = dry_run(request)
    if request.can_read_body:
        if request.content_type == PROTOBUF:
            raise ApiError(415, "the sandbox reads DeleteOptions only as JSON",
                           reason="UnsupportedMediaType")
        options = await read_body(request)
        if options is not None and not isinstance(options, dict):
            raise bad_request("DeleteOptions must be an object")
        if isinstance(options, dict) and options.get("dryRun"):
            if options["dryRun"] != ["All"]:
                raise bad_request(f'Invalid dry run value: "{options["dryRun"]}"')
            wanted = True
    return wanted
