"""The server's error handlers, registered in one place: every error becomes JSON `{"error", "status"}`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from editsearch.errors import EditSearchError, ImageLoadError, MissingDependencyError, UsageError, WeightsNotFoundError
from editsearch.index.errors import FilterError, ModelMismatchError, UnknownEditError
from editsearch.serve.gate import ApplyBusyError
from editsearch.serve.uploads import UploadTooLargeError

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


def error_response(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one JSON shape of every error the server sends."""
    return JSONResponse({"error": message, "status": status}, status, headers=headers)


async def library_error(_: Request, exc: Exception) -> JSONResponse:
    """A library error: its message, with the status STATUS gives its kind."""
    status = next((code for kind, code in STATUS if isinstance(exc, kind)), 500)
    return error_response(str(exc), status, {"Retry-After": "5"} if status == 503 else None)


async def bad_request(_: Request, exc: Exception) -> JSONResponse:
    """A request FastAPI could not validate: each problem as 'field: message'."""
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors())
    return error_response(problems, 422)


async def http_error(_: Request, exc: Exception) -> JSONResponse:
    """Starlette's HTTP errors (404 of an unknown route, 405, ...) as JSON."""
    assert isinstance(exc, HTTPException)
    return error_response(str(exc.detail), exc.status_code, exc.headers)


def install(app: FastAPI) -> None:
    """Register the error handlers on an app."""
    app.add_exception_handler(EditSearchError, library_error)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(HTTPException, http_error)
