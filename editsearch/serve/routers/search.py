"""Search: GET by text and edit id, POST by an uploaded exemplar pair; both the JSON of `query --json`."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from editsearch.core.errors import UsageError
from editsearch.search.terms import embed_query_texts
from editsearch.serve.deps import EngineDep, SettingsDep
from editsearch.serve.engine import Engine
from editsearch.serve.shapes import result_json
from editsearch.serve.uploads import read_pair

MAX_K = 1000
K = Annotated[int, Query(ge=1, le=MAX_K, description="Results to return (1-1000).")]
Rank = Literal["pair", "instruction", "hybrid"]
RANK_HELP = "Text queries: rank by the pair (EC2T), the instruction, or both fused."

router = APIRouter(tags=["search"])
META = "meta."  # a parameter meta.KEY=VALUE is a metadata facet, bound server-side


def facets_of(params: Any) -> dict[str, str] | None:
    """The meta.KEY=VALUE parameters of a request (query string or form) as {KEY: VALUE}; None: none."""
    found = {name[len(META) :]: value for name, value in params.items() if name.startswith(META)}
    return {key: value for key, value in found.items() if isinstance(value, str)} or None


@router.get("/api/search")
def search_get(
    request: Request,
    engine: EngineDep,
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
    """Edits ranked by text (EC2T, fused with instructions by `rank`), edit id (EC2EC) or both, with filters.

    Metadata facets are parameters `meta.KEY=VALUE` (e.g. `meta.family=sepia`), bound as values, never SQL.
    """
    query = {"text": text, "not_text": not_text, "edit_id": edit_id, "weight": weight, "k": k}
    filters = {"where": where, "contains": contains, "meta": facets_of(request.query_params)}
    return run_search(engine, [*text, *edit_id], not_text, weight or None, k, filters, query, rank)


@router.post("/api/search")
async def search_post(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    before: Annotated[UploadFile | None, File(description="Exemplar before image.")] = None,
    after: Annotated[UploadFile | None, File(description="Exemplar after image.")] = None,
    edit_id: Annotated[int | None, Form(description="Or: an indexed edit to find edits like.")] = None,
    text: Annotated[list[str], Form(description="Text terms to add to the query.")] = [],  # noqa: B006
    k: Annotated[int, Form(ge=1, le=MAX_K)] = 10,
    where: Annotated[str | None, Form()] = None,
    contains: Annotated[str | None, Form()] = None,
    rank: Annotated[Rank, Form(description=RANK_HELP)] = "hybrid",
) -> dict[str, Any]:
    """Edits ranked by EC2EC against an uploaded exemplar pair or an indexed edit; text terms alone by `rank`.

    Metadata facets are form fields `meta.KEY` (value: VALUE), bound as values, never SQL.
    """
    pair = await read_pair(before, after, settings.max_bytes)
    if pair is None and edit_id is None and not text:
        raise UsageError("give an exemplar pair (before and after files) or an edit_id")
    positive: list[Any] = [*([pair] if pair else []), *([edit_id] if edit_id is not None else []), *text]
    query = {"pair": pair is not None, "edit_id": edit_id, "text": text, "k": k}
    filters = {"where": where, "contains": contains, "meta": facets_of(await request.form())}
    return await run_in_threadpool(run_search, engine, positive, [], None, k, filters, query, rank)


def run_search(
    engine: Engine,
    positive: list[Any],
    negative: list[Any],
    weights: list[float] | None,
    k: int,
    filters: dict[str, Any],
    query: dict[str, Any],
    rank: str = "hybrid",
) -> dict[str, Any]:
    """`EditSearch.query` on a pooled reader, as the JSON of `query --json` plus image URLs and timing.

    `filters` holds `where`, `contains` and `meta` (each may be None).
    """
    if not positive and not negative:
        raise UsageError("give a query: text=..., edit_id=..., or an exemplar pair")
    started = time.perf_counter()
    embed_query_texts(engine.embedder, [*positive, *negative])  # before a reader: concurrent texts share batches
    with engine.reader() as reader:
        outcome = reader.query(positive, negative, weights, k=k, rank=rank, **filters)
    echo = {key: value for key, value in query.items() if value not in (None, [])}
    echo.update({key: value for key, value in filters.items() if value})
    echo.update({"rank": rank} if rank != "hybrid" else {})
    return {
        "query": echo,
        "results": [result_json(r) for r in outcome.results],
        "weak_match": outcome.weak_match,
        "weak_reference": outcome.weak_reference,
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }
