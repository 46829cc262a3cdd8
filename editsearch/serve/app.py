"""The FastAPI app of `editsearch serve`: a JSON search API over one index, its images, edit transfer, and the web page.

A thin face of the library, like the command line: searches are `EditSearch.search`, applies are
`EditTransfer.apply`, uploads are decoded by `editsearch.media.images.load_image`. `create_app` builds the
app's state and middleware and mounts the routers (`routers/`); the handlers take what they need through
the dependencies of `deps.py`, and every error becomes JSON in the handlers of `errors.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Literal

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from editsearch.core.errors import EditSearchError, UsageError
from editsearch.serve import errors
from editsearch.serve.deps import Settings
from editsearch.serve.engine import Engine
from editsearch.serve.gate import ApplyGate
from editsearch.serve.middleware import AllowedHosts, BodyLimit, RequestLog, SameOrigin, TokenGuard
from editsearch.serve.routers import apply, atlas, docs, edits, facets, page, search, server
from editsearch.serve.routers import audit as audit_routes

MAX_FILES = 3  # the most files one request carries (apply: before, after, image)
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def create_app(
    index_dir: str | Path,
    *,
    model: str | Path | None = None,
    token: str | None = None,
    max_upload_mb: float = 20.0,
    max_applies: int = 1,
    apply_queue: int = 4,
    readers: int | None = None,
    pipeline: str | Path | None = None,
    log: Literal["json", "text"] | None = None,
    host: str = "127.0.0.1",
    allowed_hosts: Sequence[str] = (),
    audit: str | Path | None = None,
) -> FastAPI:
    """The served app of one index: loads the index and its model now, and keeps them warm.

    `max_applies` edit transfers run at once and `apply_queue` more wait; further applies get a 503.
    Uploads over `max_upload_mb` get a 413. With `token`, requests must carry it (see TokenGuard).
    Requests must name in their Host header the host the server is bound to (`host`; the loopback names
    for a loopback or wildcard address) or one of `allowed_hosts` ("*": any), else they get a 400: a page
    of another site that rebinds its DNS name to this address cannot talk to it. Cross-origin writes get
    a 403 (SameOrigin). `audit` is a folder written by `editsearch audit`, served at /api/audit and as the
    page's Problems view (and colours the Atlas view by its flags).
    """
    if token is not None and not token.strip():
        raise UsageError("the token is empty: give a non-empty --token (or none, to serve without one)")
    gate = ApplyGate(max_applies, apply_queue)
    engine = Engine(index_dir, model=model, readers=readers, pipeline=pipeline)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.close()

    app = FastAPI(
        title="editsearch",
        summary="Search an index of image edits by text, exemplar pair or edit id, and apply a found edit.",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # served by routers/docs.py from the package's own copy of Swagger UI (no CDN)
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.gate = gate
    audit_dir = Path(audit) if audit is not None else None
    app.state.settings = Settings(max_upload_mb=max_upload_mb, token=token is not None, audit_dir=audit_dir)
    with suppress(EditSearchError):  # a stored map's answer is encoded now, not on the Atlas view's first visit
        engine.atlas_map(audit_dir)
    errors.install(app)
    for module in (server, search, edits, apply, facets, audit_routes, atlas, page, docs):
        app.include_router(module.router)
    app.mount("/static", page.PageFiles(directory=page.STATIC_DIR), name="static")
    app.mount(docs.ASSETS_URL, StaticFiles(directory=docs.swagger_ui_dir()), name="docs-assets")
    max_bytes = app.state.settings.max_bytes
    app.add_middleware(BodyLimit, max_bytes=MAX_FILES * max_bytes + (1 << 20))  # the last added runs first
    app.add_middleware(SameOrigin)
    if token:
        app.add_middleware(TokenGuard, token=token)
    app.add_middleware(AllowedHosts, allowed_hosts=host_names(host, allowed_hosts))
    if log:
        app.add_middleware(RequestLog, as_json=log == "json")
    return app


def host_names(host: str, allowed: Sequence[str] = ()) -> list[str]:
    """The Host header names a server bound to `host` answers to: its own (all loopback names for a loopback
    or wildcard address), plus `allowed`."""
    bare = host.strip("[]").lower()
    loopback = bare in ("localhost", "::1", "0.0.0.0", "::") or bare.startswith("127.")
    own = list(LOOPBACK) if loopback else []
    own += [] if bare in ("0.0.0.0", "::") else [f"[{bare}]" if ":" in bare else bare]
    return list(dict.fromkeys([*own, *(name.strip().lower() for name in allowed if name.strip())]))


def _version() -> str:
    from editsearch import __version__

    return __version__
