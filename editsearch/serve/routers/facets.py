"""Facets: what a `where` filter can use, with the commonest metadata values to offer as choices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from editsearch.serve.deps import EngineDep

router = APIRouter(tags=["search"])


@router.get("/api/facets")
def facets(engine: EngineDep) -> dict[str, Any]:
    """`{"columns": [...], "metadata": {KEY: [{"value", "count"}, ...]}}`: filter /api/search on a value with
    the parameter `meta.KEY=VALUE`."""
    return engine.facets()
