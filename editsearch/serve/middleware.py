"""ASGI middleware of the server: a body limit, the optional token, same-origin writes, one log line a request."""

from __future__ import annotations

import hmac
import json
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.middleware.trustedhost import TrustedHostMiddleware

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_COOKIE = "editsearch_token"
PUBLIC_PATHS = ("/healthz", "/static/", "/favicon.ico")


async def send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] = ()) -> None:
    """Send a whole JSON response."""
    data = json.dumps(body).encode()
    start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": data})


class BodyLimit:
    """Refuse (413) a request whose body is over max_bytes, by its Content-Length or as it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        error = {"error": f"request body over the server's limit of {self.max_bytes / 1e6:g} MB", "status": 413}
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await send_json(send, 413, error, [(b"connection", b"close")])
        received, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                over = True
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over and not started:
                started = True
                return await send_json(send, 413, error, [(b"connection", b"close")])
            if not over:
                started = True
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over:
                raise
        if over and not started:
            await send_json(send, 413, error, [(b"connection", b"close")])


class TokenGuard:
    """Every request but /healthz and the static files must carry the token (header, query or cookie)."""

    # `Authorization: Bearer TOKEN`, `?token=TOKEN` (which also sets a same-site cookie, so that the page's
    # <img> requests carry it), or that cookie.

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(PUBLIC_PATHS):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0].encode()
        offered = [query, _bearer(headers.get(b"authorization", b"")), _cookie(headers.get(b"cookie", b""))]
        if not any(hmac.compare_digest(o, self.token) for o in offered if o):
            return await send_json(
                send, 401, {"error": "this server needs its token: open it with ?token=...", "status": 401}
            )
        if not query:
            return await self.app(scope, receive, send)

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{TOKEN_COOKIE}={self.token.decode()}; Path=/; HttpOnly; SameSite=Strict"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        await self.app(scope, receive, with_cookie)


class AllowedHosts(TrustedHostMiddleware):
    """Starlette's TrustedHostMiddleware (a request naming another host gets a 400), answering in JSON."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        async def passed(scope: Scope, receive: Receive, send: Send) -> None:
            scope["editsearch.host_ok"] = True
            await app(scope, receive, send)

        super().__init__(passed, allowed_hosts=allowed_hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)

        async def refused_as_json(message: Message) -> None:
            if scope.get("editsearch.host_ok"):
                return await send(message)
            if message["type"] == "http.response.start":
                error = "this server does not answer to that host name (start it with --allowed-host NAME)"
                await send_json(send, message["status"], {"error": error, "status": message["status"]})

        await super().__call__(scope, receive, refused_as_json)


class SameOrigin:
    """Refuse (403) a state-changing request (POST, PUT, ...) whose Origin header names another site.

    A browser sends Origin with every cross-site POST; its host and port must be the request's own Host
    (which TrustedHostMiddleware has already checked against the allowed names). Requests without Origin
    (curl, scripts) pass: they are no browser acting for another site.
    """

    SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in self.SAFE:
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if origin is None or _netloc(origin) == headers.get(b"host", b"").decode("latin-1").lower():
            return await self.app(scope, receive, send)
        error = f"cross-origin {scope['method']} refused: this server takes writes only from its own pages"
        await send_json(send, 403, {"error": error, "status": 403})


class RequestLog:
    """One line per request on stderr: JSON (method, path, status, ms, bytes, client) or plain text."""

    # The query string is never logged: it may hold the token.

    def __init__(self, app: ASGIApp, as_json: bool) -> None:
        self.app = app
        self.as_json = as_json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status, size = 500, 0

        async def measured(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, measured)
        finally:
            ms = (time.perf_counter() - started) * 1000
            client = scope.get("client")
            record = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round(ms, 2),
                "bytes": size,
                "client": f"{client[0]}:{client[1]}" if client else None,
            }
            line = json.dumps(record) if self.as_json else f"{scope['method']} {scope['path']} {status} {ms:.1f} ms"
            print(line, file=sys.stderr, flush=True)


def _bearer(value: bytes) -> bytes:
    scheme, _, credentials = value.partition(b" ")
    return credentials.strip() if scheme.lower() == b"bearer" else b""


def _cookie(value: bytes) -> bytes:
    for part in value.split(b";"):
        name, _, content = part.strip().partition(b"=")
        if name == TOKEN_COOKIE.encode():
            return content
    return b""


def _netloc(origin: bytes) -> str | None:
    """host[:port] of an Origin header, with the scheme's default port left out; None for 'null' or garbage."""
    try:
        parts = urlsplit(origin.decode("latin-1"))
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}[parts.scheme]
    return host if port in (None, default) else f"{host}:{port}"
