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
from urllib.parse import quote

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

    # --- accounts and teams (the server's /api/signup, /api/users and /api/teams) ----------

    def signup_policy(self) -> dict[str, Any]:
        """``{"mode", "inviteRequired"}``; a server older than sign-up modes has no such
        endpoint and lets anyone sign up, which this reports as mode ``open``."""
        try:
            return dict(self.request("GET", "/api/signup"))
        except RejectedError as exc:
            if exc.status == 404:
                return {"mode": "open", "inviteRequired": False}
            raise

    def create_account(self, username: str, invite_code: str | None = None) -> dict[str, Any]:
        body = {"username": username}
        if invite_code:
            body["inviteCode"] = invite_code
        return dict(self.request("POST", "/api/users", body))

    def teams(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/teams")["teams"])

    def team(self, team_id: int) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/teams/{team_id}"))

    def create_team(self, name: str) -> dict[str, Any]:
        return dict(self.request("POST", "/api/teams", {"name": name}))

    def create_invite(
        self, team_id: int, max_uses: int | None = None, expires_in_hours: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, int] = {}
        if max_uses is not None:
            body["maxUses"] = max_uses
        if expires_in_hours is not None:
            body["expiresInHours"] = expires_in_hours
        return dict(self.request("POST", f"/api/teams/{team_id}/invites", body))

    def preview_invite(self, code: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/teams/join/{quote(code, safe='')}/preview"))

    def join(self, code: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/api/teams/join/{quote(code, safe='')}"))

    def leave(self, team_id: int) -> None:
        self.request("DELETE", f"/api/teams/{team_id}/members/me")

    def members(self, team_id: int) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/teams/{team_id}/members"))


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
