"""The server's error handlers, registered in one place: every error becomes JSON `{"error", "status"}`.

No message carries a path of the server's file system (only a file's name), and no traceback is sent:
an unexpected error is a plain 500, its traceback logged on the server.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from editsearch.core.errors import (
    EditSearchError,
    ImageLoadError,
    MissingDependencyError,
    ModelMismatchError,
    NoMapError,
    UsageError,
    WeightsNotFoundError,
)
from editsearch.index.catalog import CATALOG_FILE, damaged
from editsearch.index.errors import (
    CatalogCorruptError,
    FilterError,
    SchemaVersionError,
    UnknownEditError,
)
from editsearch.serve.gate import ApplyBusyError
from editsearch.serve.uploads import UploadTooLargeError

log = logging.getLogger("editsearch.serve")

# Library errors -> HTTP status, most specific first; any other EditSearchError is a 500.
STATUS: list[tuple[type[Exception], int]] = [
    (UnknownEditError, 404),
    (NoMapError, 409),
    (UploadTooLargeError, 413),
    (ImageLoadError, 422),
    (FilterError, 400),
    (UsageError, 400),
    (ModelMismatchError, 400),
    (ApplyBusyError, 503),
    (WeightsNotFoundError, 503),
    (MissingDependencyError, 503),
    (CatalogCorruptError, 503),
    (SchemaVersionError, 503),
]
# The folders of an absolute path (or ~/...) that starts a word: dropped, leaving the file's name.
FOLDERS = re.compile(r"(?<![^\s'\"(:=\[,])~?/(?!/)[^\s'\"]*/")
_CORRUPT_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def public(message: str) -> str:
    """A message with every absolute path cut to its file's name."""
    return FOLDERS.sub("", message)


def error_response(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one JSON shape of every error the server sends."""
    return JSONResponse({"error": public(message), "status": status}, status, headers=headers)


def status_of(exc: Exception) -> int:
    """The HTTP status of a library error."""
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)


async def library_error(_: Request, exc: Exception) -> JSONResponse:
    """A library error: its message, with the status STATUS gives its kind."""
    status = status_of(exc)
    return error_response(str(exc), status, {"Retry-After": "5"} if status == 503 else None)


async def bad_request(_: Request, exc: Exception) -> JSONResponse:
    """A request FastAPI could not validate (a parameter missing, of the wrong type or out of range): a 400."""
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors())
    return error_response(problems, 400)


async def http_error(_: Request, exc: Exception) -> JSONResponse:
    """Starlette's HTTP errors (404 of an unknown route, 405, ...) as JSON."""
    assert isinstance(exc, HTTPException)
    return error_response(str(exc.detail), exc.status_code, exc.headers)


async def database_error(request: Request, exc: Exception) -> JSONResponse:
    """An SQLite error a query met: a damaged catalog is a 503 saying what to do; any other a 500."""
    if is_corruption(exc):
        return error_response(damaged(Path(CATALOG_FILE), str(exc)), 503, {"Retry-After": "5"})
    return await internal_error(request, exc)


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything unexpected: a JSON 500 naming no detail; the traceback goes to the server's log."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response("internal server error (the server's log has the details)", 500)


def is_corruption(exc: BaseException) -> bool:
    """Whether an SQLite error says the database file is damaged."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    return isinstance(exc, sqlite3.DatabaseError) and (code in _CORRUPT_CODES or "malformed" in str(exc))


def install(app: FastAPI) -> None:
    """Register the error handlers on an app."""
    app.add_exception_handler(EditSearchError, library_error)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(sqlite3.DatabaseError, database_error)
    app.add_exception_handler(Exception, internal_error)
