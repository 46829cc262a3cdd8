"""`editsearch serve`: the search API and web page of one index, on uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from editsearch.cli.common import index_option, model_option, warn
from editsearch.core.errors import untrained_note


@click.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless told).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@model_option
@click.option("--token", envvar="EDITSEARCH_TOKEN", default=None, help="Require this token on every request.")
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Another host name the server answers to (Host header), e.g. a DNS name of this machine; repeatable.",
)
@click.option("--max-upload-mb", type=click.FloatRange(min=0.001), default=20.0, show_default=True)
@click.option("--max-applies", type=click.IntRange(1), default=1, show_default=True, help="Edit transfers at once.")
@click.option(
    "--audit",
    "audit_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="An `editsearch audit --out` folder: its flagged edits are the page's Problems view and /api/audit.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON log line per request on stderr.")
def serve(
    index_dir: str,
    host: str,
    port: int,
    model_name: str | None,
    token: str | None,
    allowed_hosts: tuple[str, ...],
    max_upload_mb: float,
    max_applies: int,
    audit_dir: str | None,
    as_json: bool,
) -> None:
    """Serve an index: a JSON search API (OpenAPI at /docs) and a web page at /, warm, following later writes.

    \b
    editsearch serve --index DIR                      # http://127.0.0.1:8000/
    editsearch serve --index DIR --host 0.0.0.0 --token SECRET
    Without --token anyone who can reach the port can search and apply: keep the default loopback
    host, or set a token whenever --host is not loopback. Requests must name the bound host (or, for a
    loopback or 0.0.0.0 address, localhost, 127.0.0.1 or [::1]) or an --allowed-host.
    """
    if token is not None and not token.strip():
        raise click.BadParameter("is empty (a token read from a missing file?)", param_hint="--token")
    import uvicorn

    from editsearch.serve import create_app

    app = create_app(
        index_dir,
        model=model_name,
        token=token,
        max_upload_mb=max_upload_mb,
        max_applies=max_applies,
        log="json" if as_json else "text",
        host=host,
        allowed_hosts=allowed_hosts,
        audit=audit_dir,
    )
    engine = app.state.engine
    if not engine.trained:
        warn(untrained_note(engine.model_name, "its rankings are noise"))
    if audit_dir is not None:
        _warn_of_audit(engine, Path(audit_dir))
    if token is None and host not in ("127.0.0.1", "localhost", "::1"):
        warn(f"warning: serving on {host} without --token: anyone who can reach it can use it")
    if host in ("0.0.0.0", "::") and not allowed_hosts:
        warn(f"note: on {host} only requests naming localhost are answered; add --allowed-host NAME for the others")
    shown = f"[{host}]" if ":" in host else host
    warn(f"editsearch serve: http://{shown}:{port}/ (API docs at /docs)")
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")


def _warn_of_audit(engine: Any, audit_dir: Path) -> None:
    """Say at start when the audit folder cannot be served (the Problems view is then off) or is stale."""
    from editsearch.audit.identity import AuditFolderError

    try:
        stale = engine.audit(audit_dir)[2]
    except AuditFolderError as e:
        warn(f"warning: --audit: the Problems view is off: {e}")
        return
    if stale:
        warn(f"note: --audit: the audit is stale: {stale}")
