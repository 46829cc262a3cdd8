"""editsearch: a search engine for image edits. The public API, imported lazily (torch loads on first use)."""

from __future__ import annotations

from editsearch.core.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "EditCLIP": "editsearch.encoder",
    "load_model": "editsearch.encoder",
    "DEFAULT_MODEL": "editsearch.encoder",
    "EditSearch": "editsearch.search.api",
    "SearchResult": "editsearch.search.results",
    "rank_edits": "editsearch.search.candidates",
    "EditIndex": "editsearch.index.store",
    "iter_source": "editsearch.data.sources",
    "score_pairs": "editsearch.search.scoring",
    "audit": "editsearch.audit",  # run.audit; the package itself is callable too (see its __init__)
    "build_map": "editsearch.atlas",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
