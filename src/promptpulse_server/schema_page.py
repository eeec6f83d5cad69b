"""``/schema``: the API's endpoints as a page the server renders itself, next to the OpenAPI
document at ``/schema/openapi.json``. The page loads nothing (no script, no stylesheet, no font,
from here or elsewhere), so it works offline and under the app's Content-Security-Policy, which
a CDN-hosted renderer (Scalar, Swagger UI, Redoc) breaks. Any OpenAPI tool can open the JSON."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from jinja2 import Environment
from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

_METHODS = ("get", "post", "put", "patch", "delete")

_PAGE = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} API</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #8884; }
code { font-size: 14px; }
@media (prefers-color-scheme: dark) { body { background: #111; color: #ddd; } a { color: #8bf; } }
</style>
</head>
<body>
<h1>{{ title }} API <small>{{ version }}</small></h1>
<p>The OpenAPI document: <a href="{{ json_url }}">{{ json_url }}</a> (open it with any OpenAPI
tool). Authenticate with an <code>X-API-Key</code> header.</p>
<table>
<thead><tr><th>method</th><th>path</th><th>what</th><th>takes</th></tr></thead>
<tbody>
{% for e in endpoints %}
<tr><td>{{ e.method }}</td><td><code>{{ e.path }}</code></td><td>{{ e.summary }}</td>
<td>{{ e.takes }}</td></tr>
{% endfor %}
</tbody>
</table>
</body>
</html>
"""
)


class Endpoint(NamedTuple):
    method: str
    path: str
    summary: str
    takes: str  # its parameters, and "JSON body" when it reads one


def endpoints(openapi: dict[str, Any]) -> list[Endpoint]:
    """Every operation of an OpenAPI document, in its order."""
    rows = []
    for path, item in openapi.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            summary = op.get("summary") or ""
            takes = [p["name"] for p in op.get("parameters", [])]
            if "requestBody" in op:
                takes.append("JSON body")
            rows.append(
                Endpoint(
                    method=method.upper(),
                    path=path,
                    # Litestar names an operation after its handler: CreateLoginLink
                    summary=re.sub(r"(?<=[a-z])(?=[A-Z])", " ", summary).capitalize(),
                    takes=", ".join(takes),
                )
            )
    return rows


class EndpointsPage(OpenAPIRenderPlugin):
    """The page at ``/schema`` (Litestar adds ``/schema/openapi.json`` beside it)."""

    def __init__(self) -> None:
        super().__init__(path="/")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        info = openapi_schema.get("info", {})
        return _PAGE.render(
            title=info.get("title", ""),
            version=info.get("version", ""),
            json_url=self.get_openapi_json_route(request),
            endpoints=endpoints(openapi_schema),
        ).encode()
