"""A local Azure AI Search: the REST calls ``azure-search-documents`` makes, on loopback.

Speaks just enough of the data-plane API for the SDK's async clients: index
get/create (``GET /indexes('x')``, ``POST /indexes``), document actions
(``POST /indexes('x')/docs/search.index``: upload, merge, mergeOrUpload,
delete), search (``POST /indexes('x')/docs/search.post.search``: search text,
``*``, ``top``, ``select``, ``count``, ``search.in`` and ``eq`` filters,
``queryType=semantic``, ``vectorQueries`` recorded) and ``GET .../docs/$count``.
Ranking is a crude term count, enough to order hits in tests.

Faults are scripted with :meth:`FakeSearchService.fail_next`: the next matching
requests get the given status and an Azure error body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_INDEX_PATH = re.compile(r"^/indexes\('([^']+)'\)(/docs.*)?$")
_SEARCH_IN = re.compile(r"search\.in\((\w+),\s*'([^']*)',\s*'([^']*)'\)")
_EQ = re.compile(r"^(\w+) eq '([^']*)'$")


@dataclass
class _Fault:
    status: int
    path_contains: str
    times: int
    headers: dict[str, str]


@dataclass
class FakeSearchService:
    """State of the fake service; ``app`` is the aiohttp application."""

    api_key: str = "test-admin-key"
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)

    def fail_next(
        self,
        status: int,
        *,
        path_contains: str = "",
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path contains the text with
        ``status``."""
        self._faults.append(_Fault(status, path_contains, times, headers or {}))

    @property
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        payload = json.loads(body) if body else None
        self.requests.append((request.method, request.path, payload))

        for fault in self._faults:
            if fault.times > 0 and fault.path_contains in request.path:
                fault.times -= 1
                return _error(fault.status, "Injected", "injected fault", fault.headers)
        if request.headers.get("api-key") != self.api_key:
            return _error(403, "Forbidden", "Authorization failed.")

        if request.path == "/indexes" and request.method == "POST":
            return self._create_index(payload or {})
        match = _INDEX_PATH.match(request.path)
        if match is None:
            return _error(404, "NotFound", f"no route {request.path}")
        name, tail = match.group(1), match.group(2) or ""
        if name not in self.indexes:
            return _error(
                404, "ResourceNameNotFound", f"No index with the name '{name}'"
            )
        if tail == "" and request.method == "GET":
            return web.json_response(self.indexes[name])
        if tail == "/docs/$count":
            return web.Response(text=str(len(self.documents[name])))
        if tail == "/docs/search.index":
            return self._index_actions(name, (payload or {}).get("value", []))
        if tail == "/docs/search.post.search":
            return self._search(name, payload or {})
        return _error(404, "NotFound", f"no route {request.method} {request.path}")

    def _create_index(self, definition: dict[str, Any]) -> web.Response:
        name = definition["name"]
        self.indexes[name] = definition
        self.documents.setdefault(name, {})
        return web.json_response(definition, status=201)

    def _index_actions(self, name: str, actions: list[dict[str, Any]]) -> web.Response:
        docs = self.documents[name]
        results = []
        for action in actions:
            kind = action.pop("@search.action", "upload")
            key = action["id"]
            if kind == "delete":
                docs.pop(key, None)
            elif kind in ("merge", "mergeOrUpload") and key in docs:
                docs[key].update(action)
            else:
                docs[key] = dict(action)
            results.append(
                {"key": key, "status": True, "errorMessage": None, "statusCode": 200}
            )
        return web.json_response({"value": results})

    def _search(self, name: str, query: dict[str, Any]) -> web.Response:
        text = query.get("search") or "*"
        words = [w for w in re.findall(r"\w+", text.lower()) if len(w) > 2]
        hits = []
        for doc in self.documents[name].values():
            if not _matches(doc, query.get("filter")):
                continue
            if text.strip() == "*":
                hits.append((1.0, doc))
                continue
            haystack = " ".join(
                str(doc.get(f, "")) for f in ("title", "section", "text")
            ).lower()
            score = float(sum(haystack.count(w) for w in words))
            if score > 0:
                hits.append((score, doc))
        hits.sort(key=lambda h: -h[0])
        selected = [f.strip() for f in (query.get("select") or "").split(",") if f]
        top = query.get("top") or 50
        value = []
        for score, doc in hits[:top]:
            item = {k: v for k, v in doc.items() if not selected or k in selected}
            item["@search.score"] = score
            if query.get("queryType") == "semantic":
                item["@search.rerankerScore"] = min(4.0, score)
            value.append(item)
        response: dict[str, Any] = {"value": value}
        if query.get("count"):
            response["@odata.count"] = len(hits)
        return web.json_response(response)


def _matches(doc: dict[str, Any], flt: str | None) -> bool:
    if not flt:
        return True
    match = _SEARCH_IN.fullmatch(flt.strip())
    if match:
        field_name, values, sep = match.groups()
        return str(doc.get(field_name)) in values.split(sep)
    match = _EQ.match(flt.strip())
    if match:
        return str(doc.get(match.group(1))) == match.group(2).replace("''", "'")
    raise ValueError(f"the fake does not understand the filter {flt!r}")


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )
