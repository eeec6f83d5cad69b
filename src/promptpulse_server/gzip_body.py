"""Request bodies sent with ``Content-Encoding: gzip`` (the collector compresses its uploads),
decompressed before Litestar reads them, never past the body-size limit."""

from __future__ import annotations

import zlib
from typing import Any


class GzipRequestMiddleware:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not _is_gzip(scope):
            await self.app(scope, receive, send)
            return
        inflate = zlib.decompressobj(wbits=31)
        body = bytearray()
        more = True
        while more:
            message: Any = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)
                return
            more = message.get("more_body", False)
            try:
                body += inflate.decompress(message.get("body", b""), self.max_bytes + 1 - len(body))
            except zlib.error:
                await _reply(send, 400, b'{"status_code":400,"detail":"body is not valid gzip"}')
                return
            if len(body) > self.max_bytes or inflate.unconsumed_tail:
                await _reply(send, 413, b'{"status_code":413,"detail":"Request Entity Too Large"}')
                return
        headers = [
            (k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app({**scope, "headers": headers}, replay, send)


def _is_gzip(scope: Any) -> bool:
    return any(
        k == b"content-encoding" and v.strip().lower() == b"gzip" for k, v in scope["headers"]
    )


async def _reply(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
