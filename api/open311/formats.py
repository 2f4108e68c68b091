"""The two formats of GeoReport v2: every answer as XML (the format the specification requires) or JSON, chosen by
the path's suffix (``services.xml``, ``requests/{id}.json``), errors included.

The XML follows the specification's examples: a root element per answer (``services``, ``service_definition``,
``service_requests``, ``discovery``, ``errors``), one element per item (``service``, ``request``, ``error``), lists
inside an item wrapped by their plural (``attributes/attribute``, ``values/value``, ``endpoints/endpoint``,
``formats/format``), no value as an empty element, booleans as ``true``/``false``, times in W3C form with their
offset. Built with the standard library's ElementTree, which escapes every text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

XML_TYPE = "text/xml; charset=utf-8"
# Inside an item, a list's elements are named by the singular of the list (the spec's examples).
ITEM_OF = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}


class Fmt(StrEnum):
    """The suffix of an Open311 path."""

    XML = "xml"
    JSON = "json"


def fmt_of_path(path: str) -> Fmt:
    """The format an answer (an error too) is written in: the path's suffix; JSON when it has none we know."""
    return Fmt.XML if path.rstrip("/").endswith(".xml") else Fmt.JSON


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _element(parent: ET.Element, name: str, value: Any) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _element(child, str(key), inner)
    elif isinstance(value, list | tuple):
        item = ITEM_OF.get(name, "item")
        for inner in value:
            _element(child, item, inner)
    else:
        child.text = _text(value)


def to_xml(root: str, item: str | None, data: Any) -> bytes:
    """`data` (JSON-shaped: dicts, lists, scalars) as the spec's XML: a list under `root` with each entry as an
    `item`, or one mapping whose keys are `root`'s children."""
    top = ET.Element(root)
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        for entry in data:
            _element(top, item or "item", entry)
    elif isinstance(data, Mapping):
        for key, value in data.items():
            _element(top, str(key), value)
    return ET.tostring(top, encoding="utf-8", xml_declaration=True)


def _plain(body: BaseModel | Sequence[BaseModel]) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", by_alias=True)
    return [b.model_dump(mode="json", by_alias=True) for b in body]


def respond(fmt: Fmt, body: BaseModel | Sequence[BaseModel], root: str, item: str | None = None,
            status: int = 200) -> Response:
    """The answer in `fmt`: a model (one XML root with its fields) or a list of models (`root` of `item`s)."""
    data = _plain(body)
    if fmt is Fmt.XML:
        return Response(to_xml(root, item, data), status_code=status, media_type=XML_TYPE)
    return JSONResponse(data, status_code=status)


def error_response(path: str, status: int, description: str) -> Response:
    """The spec's error answer, ``[{"code", "description"}]`` or ``<errors><error>…``, in the path's format."""
    errors = [{"code": status, "description": description}]
    if fmt_of_path(path) is Fmt.XML:
        return Response(to_xml("errors", "error", errors), status_code=status, media_type=XML_TYPE)
    return JSONResponse(errors, status_code=status)


# OpenAPI: what each route answers besides its JSON model.
XML_ANSWER: dict[int | str, dict[str, Any]] = {200: {"content": {"text/xml": {}},
                                                      "description": "JSON, or XML for the .xml suffix"}}
