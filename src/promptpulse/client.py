"""The collector's HTTP client for the promptpulse server: API key auth, gzip bodies, retries
with backoff on network errors and 5xx.

Exceptions::

    ServerError            the server could not be reached or kept failing (worth retrying later)
    └── RejectedError      the server refused the request (4xx): retrying will not help
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import httpx

from promptpulse import __version__

RETRIES = 3
BACKOFF_S = 0.5
TIMEOUT_S = 30.0


class ServerError(Exception):
    pass


class RejectedError(ServerError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"the server refused it ({status}): {detail}")
        self.status = status
        self.detail = detail


class Client:
    def __init__(
        self,
        server: str,
        api_key: str = "",
        *,
        transport: httpx.BaseTransport | None = None,
        retries: int = RETRIES,
        backoff_s: float = BACKOFF_S,
    ) -> None:
        self.server = server.rstrip("/")
        headers = {"User-Agent": f"promptpulse/{__version__}"}
        if api_key:
            headers["X-API-Key"] = api_key
        self.http = httpx.Client(
            base_url=self.server, headers=headers, timeout=TIMEOUT_S, transport=transport
        )
        self.retries = retries
        self.backoff_s = backoff_s

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        gzip_body: bool = False,
        params: dict[str, str] | None = None,
    ) -> Any:
        content = None
        headers = {}
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
            if gzip_body:
                content = gzip.compress(content, compresslevel=6)
                headers["Content-Encoding"] = "gzip"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                r = self.http.request(method, path, content=content, headers=headers, params=params)
            except httpx.TransportError as exc:
                last = f"cannot reach {self.server}: {type(exc).__name__}"
                continue
            if r.status_code >= 500:
                last = f"{self.server} answered {r.status_code}"
                continue
            if r.status_code >= 400:
                raise RejectedError(r.status_code, _detail(r))
            return r.json() if r.content else None
        raise ServerError(last)


def _detail(r: httpx.Response) -> str:
    try:
        doc = r.json()
    except ValueError:
        return r.text[:200]
    detail = str(doc.get("detail", "")) if isinstance(doc, dict) else str(doc)
    extra = doc.get("extra") if isinstance(doc, dict) else None
    if isinstance(extra, list) and extra:
        detail += ": " + "; ".join(
            f"{e.get('key', '')}: {e.get('message', '')}" for e in extra if isinstance(e, dict)
        )
    return detail
