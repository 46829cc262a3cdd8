"""The FastAPI app of `editsearch serve`: a JSON search API over one index, its images, edit transfer, and the web page.

A thin face of the library, like the command line: searches are `EditSearch.search`, applies are
`EditTransfer.apply`, uploads are decoded by `editsearch.images.load_image`, and every library error
becomes a JSON error in one handler.
"""

from __future__ import annotations

import base64
import time
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from editsearch.errors import (
    EditSearchError,
    ImageLoadError,
    MissingDependencyError,
    UsageError,
    WeightsNotFoundError,
)
from editsearch.index.errors import FilterError, ModelMismatchError, UnknownEditError
from editsearch.search import SearchResult
from editsearch.serve.engine import Engine
from editsearch.serve.images import ThumbnailCache, encode, full_png
from editsearch.serve.middleware import BodyLimit, RequestLog, TokenGuard
from editsearch.serve.uploads import UploadTooLargeError, decode, read_upload

STATIC_DIR = Path(str(files("editsearch.serve") / "static"))
MAX_K = 1000
THUMB_SIZE = 256
MAX_FILES = 3  # the most files one request carries (apply: before, after, image)


class ApplyBusyError(EditSearchError):
    """Every apply slot is taken and the queue is full."""


# Library errors -> HTTP status, most specific first; any other EditSearchError is a 500.
STATUS: list[tuple[type[Exception], int]] = [
    (UnknownEditError, 404),
    (UploadTooLargeError, 413),
    (ImageLoadError, 422),
    (FilterError, 400),
    (UsageError, 400),
    (ModelMismatchError, 400),
    (ApplyBusyError, 503),
    (WeightsNotFoundError, 503),
    (MissingDependencyError, 503),
]

K = Annotated[int, Query(ge=1, le=MAX_K, description="Results to return (1-1000).")]
Side = Literal["before", "after"]
Rank = Literal["pair", "instruction", "hybrid"]
RANK_HELP = "Text queries: rank by the pair (EC2T), the instruction, or both fused."


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
) -> FastAPI:
    """The served app of one index: loads the index and its model now, and keeps them warm.

    `max_applies` edit transfers run at once and `apply_queue` more wait; further applies get a 503.
    Uploads over `max_upload_mb` get a 413. With `token`, requests must carry it (see TokenGuard).
    """
    engine = Engine(index_dir, model=model, readers=readers, pipeline=pipeline)
    thumbs = ThumbnailCache()
    max_bytes = int(max_upload_mb * 1e6)
    gate = ApplyGate(max_applies, apply_queue)
    started = time.time()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        yield
        engine.close()

    app = FastAPI(
        title="editsearch",
        summary="Search an index of image edits by text, exemplar pair or edit id, and apply a found edit.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.gate = gate

    @app.exception_handler(EditSearchError)
    async def library_error(_: Request, exc: EditSearchError) -> JSONResponse:
        status = next((code for kind, code in STATUS if isinstance(exc, kind)), 500)
        headers = {"Retry-After": "5"} if status == 503 else None
        return JSONResponse({"error": str(exc), "status": status}, status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": problems, "status": 422}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail), "status": exc.status_code}, exc.status_code, exc.headers)

    @app.get("/healthz", tags=["server"])
    def healthz() -> dict[str, Any]:
        """Liveness: the server answers."""
        return {"status": "ok"}

    @app.get("/api/stats", tags=["server"])
    def stats() -> dict[str, Any]:
        """The index's stats (as `editsearch stats --json`) and the server's own."""
        with engine.reader() as reader:
            index = reader.index.stats()
        server = {
            "uptime_s": round(time.time() - started, 1),
            "readers": engine.size,
            "query_towers": "onnx" if engine.onnx else "torch",
            "max_applies": gate.running,
            "applies_pending": gate.pending,
            "max_upload_mb": max_upload_mb,
            "token": token is not None,
            "thumbnail_cache": thumbs.stats,
        }
        return {"index": index, "server": server}

    @app.get("/api/search", tags=["search"])
    def search_get(
        text: Annotated[list[str], Query(description="Text to search for (EC2T); repeat to combine.")] = [],  # noqa: B006
        not_text: Annotated[list[str], Query(description="Text to steer away from (subtracted).")] = [],  # noqa: B006
        edit_id: Annotated[list[int], Query(description="Find edits like this indexed edit.")] = [],  # noqa: B006
        weight: Annotated[
            list[float], Query(description="One weight per term: text..., edit_id..., then not_text... (default 1).")
        ] = [],  # noqa: B006
        k: K = 10,
        where: Annotated[str | None, Query(description="SQL condition on the edits columns.")] = None,
        contains: Annotated[str | None, Query(description="Full-text match on instructions.")] = None,
        rank: Annotated[Rank, Query(description=RANK_HELP)] = "hybrid",
    ) -> dict[str, Any]:
        """Edits ranked by text (EC2T, fused with instructions by `rank`), edit id (EC2EC) or both, with filters."""
        query = {"text": text, "not_text": not_text, "edit_id": edit_id, "weight": weight, "k": k}
        return run_search(engine, [*text, *edit_id], not_text, weight or None, k, where, contains, query, rank)

    @app.post("/api/search", tags=["search"])
    async def search_post(
        before: Annotated[UploadFile | None, File(description="Exemplar before image.")] = None,
        after: Annotated[UploadFile | None, File(description="Exemplar after image.")] = None,
        edit_id: Annotated[int | None, Form(description="Or: an indexed edit to find edits like.")] = None,
        text: Annotated[list[str], Form(description="Text terms to add to the query.")] = [],  # noqa: B006
        k: Annotated[int, Form(ge=1, le=MAX_K)] = 10,
        where: Annotated[str | None, Form()] = None,
        contains: Annotated[str | None, Form()] = None,
        rank: Annotated[Rank, Form(description=RANK_HELP)] = "hybrid",
    ) -> dict[str, Any]:
        """Edits ranked by EC2EC against an uploaded exemplar pair or an indexed edit; text terms alone by `rank`."""
        pair = await read_pair(before, after, max_bytes)
        if pair is None and edit_id is None and not text:
            raise UsageError("give an exemplar pair (before and after files) or an edit_id")
        positive: list[Any] = [*([pair] if pair else []), *([edit_id] if edit_id is not None else []), *text]
        query = {"pair": pair is not None, "edit_id": edit_id, "text": text, "k": k}
        return await run_in_threadpool(run_search, engine, positive, [], None, k, where, contains, query, rank)

    @app.get("/api/edits/{edit_id}", tags=["edits"])
    def edit(edit_id: int) -> dict[str, Any]:
        """One live edit: its instruction, image locators, metadata and image URLs."""
        with engine.reader() as reader:
            row = live_row(reader, edit_id)
        keys = ("id", "instruction", "before", "after", "metadata", "source", "origin", "created_at", "updated_at")
        return {**{key: row.get(key) for key in keys}, "urls": urls(edit_id)}

    @app.get(
        "/api/edits/{edit_id}/{side}",
        tags=["edits"],
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
    )
    def edit_image(
        edit_id: int,
        side: Side,
        size: Annotated[int | None, Query(ge=16, le=1024, description="Thumbnail side (JPEG); none: PNG.")] = None,
    ) -> Response:
        """One side of a catalogued edit: a cached JPEG thumbnail with `size`, else the full image as PNG."""
        with engine.reader() as reader:
            row = live_row(reader, edit_id)
        if size is None:
            return Response(
                full_png(row[side]), media_type="image/png", headers={"Cache-Control": "private, max-age=60"}
            )
        etag = f'"{edit_id}-{side}-{size}-{(row.get(f"{side}_hash") or "")[:16]}"'
        headers = {"ETag": etag, "Cache-Control": "private, max-age=3600"}
        return Response(thumbs.get(row, side, size), media_type="image/jpeg", headers=headers)

    @app.post(
        "/api/apply",
        tags=["apply"],
        response_class=Response,
        responses={200: {"content": {"image/png": {}, "application/json": {}}}},
    )
    async def apply(
        image: Annotated[UploadFile, File(description="The photo to edit.")],
        edit_id: Annotated[int | None, Form(description="The indexed edit to apply.")] = None,
        before: Annotated[UploadFile | None, File(description="Or: an exemplar before image.")] = None,
        after: Annotated[UploadFile | None, File(description="Or: an exemplar after image.")] = None,
        steps: Annotated[int, Form(ge=1, le=100)] = 50,
        seed: Annotated[int, Form()] = 0,
        format: Annotated[Literal["png", "json"], Query(description="png: the image; json: image + EC2EC")] = "png",
    ) -> Response:
        """Apply an exemplar edit to an uploaded photo: the edited PNG (EC2EC in the X-EC2EC header), or JSON."""
        pair = await read_pair(before, after, max_bytes)
        if (pair is None) == (edit_id is None):
            raise UsageError("give either edit_id or an exemplar pair (before and after files), not both")
        photo = await run_in_threadpool(decode, await read_upload(image, max_bytes), image.filename or "image")
        result = await gate.run(run_apply, engine, edit_id, pair, photo, steps, seed)
        if format == "json":
            png = result.pop("png")
            return JSONResponse({**result, "image": "data:image/png;base64," + base64.b64encode(png).decode()})
        headers = {"X-EC2EC": f"{result['ec2ec']:.6f}", "X-Apply-Seconds": f"{result['seconds']:.3f}"}
        return Response(result["png"], media_type="image/png", headers=headers)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimit, max_bytes=MAX_FILES * max_bytes + (1 << 20))  # the last added runs first
    if token:
        app.add_middleware(TokenGuard, token=token)
    if log:
        app.add_middleware(RequestLog, as_json=log == "json")
    return app


class ApplyGate:
    """At most `running` applies at once in worker threads, `waiting` more queued; beyond that ApplyBusyError."""

    def __init__(self, running: int, waiting: int) -> None:
        if running < 1 or waiting < 0:
            raise UsageError("max applies must be at least 1 and the apply queue at least 0")
        self.running = running
        self.waiting = waiting
        self.pending = 0
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, fn: Any, *args: Any) -> Any:
        """Run fn(*args) in a worker thread of the apply pool (never the one searches use)."""
        if self.pending >= self.running + self.waiting:
            raise ApplyBusyError(f"{self.pending} edits are being applied or queued; try again shortly")
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.running)
        self.pending += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        finally:
            self.pending -= 1


def run_search(
    engine: Engine,
    positive: list[Any],
    negative: list[Any],
    weights: list[float] | None,
    k: int,
    where: str | None,
    contains: str | None,
    query: dict[str, Any],
    rank: str = "hybrid",
) -> dict[str, Any]:
    """`EditSearch.search` on a pooled reader, as the JSON of `query --json` plus image URLs and timing."""
    if not positive and not negative:
        raise UsageError("give a query: text=..., edit_id=..., or an exemplar pair")
    started = time.perf_counter()
    with engine.reader() as reader:
        try:
            results = reader.search(positive, negative, weights, k=k, where=where, contains=contains, rank=rank)
        except EditSearchError:
            raise
        except ValueError as e:  # the query's own shape: weights that do not match the terms, terms that cancel
            raise UsageError(str(e)) from None
    echo = {key: value for key, value in query.items() if value not in (None, [])}
    echo.update({key: value for key, value in (("where", where), ("contains", contains)) if value})
    echo.update({"rank": rank} if rank != "hybrid" else {})
    return {
        "query": echo,
        "results": [result_json(r) for r in results],
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }


def result_json(result: SearchResult) -> dict[str, Any]:
    """A result in the shape of `query --json`, plus the URLs of its images."""
    return {**result.to_dict(), "urls": urls(result.id)}


def urls(edit_id: int | None) -> dict[str, str]:
    """Where the page finds an edit and its images."""
    base = f"/api/edits/{edit_id}"
    return {
        "edit": base,
        "before": f"{base}/before",
        "after": f"{base}/after",
        "before_thumb": f"{base}/before?size={THUMB_SIZE}",
        "after_thumb": f"{base}/after?size={THUMB_SIZE}",
    }


def live_row(reader: Any, edit_id: int) -> Any:
    """The catalog row of a live edit; UnknownEditError for an unknown or removed id."""
    row = reader.index.catalog.get_edit(edit_id)
    if row.get("deleted"):
        raise UnknownEditError(f"edit {edit_id} was removed from this index")
    return row


async def read_pair(before: UploadFile | None, after: UploadFile | None, max_bytes: int) -> tuple[Any, Any] | None:
    """The decoded (before, after) exemplar of an upload, or None when neither file was sent."""
    if before is None and after is None:
        return None
    if before is None or after is None:
        raise UsageError("an exemplar pair needs both files: before and after")
    data = [await read_upload(before, max_bytes), await read_upload(after, max_bytes)]
    return (
        await run_in_threadpool(decode, data[0], before.filename or "before"),
        await run_in_threadpool(decode, data[1], after.filename or "after"),
    )


def run_apply(engine: Engine, edit_id: int | None, pair: Any, photo: Any, steps: int, seed: int) -> dict[str, Any]:
    """Apply an indexed or uploaded exemplar to one photo on a pooled pipeline: PNG bytes, EC2EC, timing."""
    from editsearch.transfer.exemplar import exemplar_from_files, exemplar_from_index

    started = time.perf_counter()
    exemplar = exemplar_from_index(engine.index_dir, edit_id) if pair is None else exemplar_from_files(*pair)
    with engine.transfer() as transfer:
        output = transfer.apply(exemplar.before, exemplar.after, [photo], steps=steps, seed=seed)[0]
        ec2ec = transfer.ec2ec(exemplar.before, exemplar.after, [photo], [output])[0]
    edit = exemplar.describe() if edit_id is not None else {"id": None, "instruction": None}
    return {
        "png": encode(output, "PNG"),
        "ec2ec": ec2ec,
        "size": list(output.size),
        "edit": {key: edit.get(key) for key in ("id", "instruction")},
        "settings": {"steps": steps, "seed": seed},
        "seconds": round(time.perf_counter() - started, 3),
    }


def _version() -> str:
    from editsearch import __version__

    return __version__
