"""How the dashboard's pages are rendered: the Jinja environment and its filters, the security
headers every page carries, and error pages for browsers (the API keeps its JSON errors)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import zoneinfo
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from jinja2.utils import htmlsafe_json_dumps
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.exceptions.responses import create_exception_response
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from promptpulse_server import palette, views

# Everything comes from this server: no CDN, no fonts or scripts from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def money(value: float | None) -> str:
    v = float(value or 0)
    if abs(v) >= 1000:
        return f"${v:,.0f}"
    return f"${v:,.2f}"


def tokens(value: int | None) -> str:
    """1234567 → 1.23M."""
    v = int(value or 0)
    for size, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if abs(v) >= size:
            return f"{v / size:.2f}{unit}"
    return str(v)


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def local(value: dt.datetime | None, zone: str = "UTC", fmt: str = "%d %b %Y %H:%M") -> str:
    if value is None:
        return "–"
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


def duration(value: dt.timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def finite(value: Any) -> Any:
    """``value`` with every infinite or NaN float replaced by None, which JSON can carry."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def json_text(value: Any, **options: Any) -> str:
    """Strict JSON (no NaN or Infinity, which JSON.parse refuses)."""
    return json.dumps(finite(value), allow_nan=False, **options)


def script_json(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block: ``<``, ``>``, ``&`` and ``'``
    are escaped (Jinja's ``tojson``), so no name in the data can close the block."""
    return htmlsafe_json_dumps(
        finite(value), dumps=json.dumps, separators=(",", ":"), allow_nan=False
    )


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet would run as a formula starts with a quote instead (OWASP's rule
    for CSV injection); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


THEME_COOKIE = "pp_theme"
# the toggle's modes in the order it cycles through them, each with what its button says
# (static/app.js holds the same words for the button after a click)
THEMES = {
    "dark": "Dark theme (click for light)",
    "light": "Light theme (click to follow the system)",
    "system": "Theme follows the system (click for dark)",
}


def theme_of(request: Request[Any, Any, Any] | None) -> str:
    """The theme the viewer chose with the toggle: a cookie the server reads, so the page comes
    in its colours before the first paint, without an inline script. Dark unless light or
    "system" (follow the device's preference) was chosen."""
    chosen = request.cookies.get(THEME_COOKIE, "") if request is not None else ""
    return chosen if chosen in THEMES else "dark"


@functools.cache
def timezones() -> list[str]:
    """The time zones the settings offer: every IANA zone this system knows, by name."""
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


def _environment() -> Environment:
    from promptpulse_server import web

    env = Environment(
        loader=PackageLoader("promptpulse_server", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, tokens=tokens, percent=percent, local=local, duration=duration)
    env.globals.update(
        static=web.static_url,
        colour=palette.model_colour,
        short=palette.short_name,
        periods=views.PERIODS,
        theme_of=theme_of,
        themes=THEMES,
        timezones=timezones(),
    )
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(_environment()))


def security_headers(response: Response[Any]) -> Response[Any]:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if isinstance(response, Template):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """A page for people, where a person is looking; the API's JSON error everywhere else."""
    browser = "text/html" in request.headers.get("accept", "")
    if not browser or request.url.path.startswith(("/api/", "/health", "/schema")):
        return create_exception_response(request, exc)
    return Template(
        "error.html",
        context={"status": exc.status_code, "detail": exc.detail},
        status_code=exc.status_code,
    )
