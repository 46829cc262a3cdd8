"""What is wrong in an edit collection: no-op edits, mismatched or reversed instructions, duplicate pairs.

`editsearch.audit(index_or_search)` scores every live edit of an index for each check and flags it under a
threshold set from the collection's own scores (see thresholds.py); `editsearch audit` writes the table, a
summary, an HTML report and a clean manifest. This package is itself callable: once imported (a build's loader
imports its `signatures`), `editsearch.audit` names the package rather than the function, so calling the package runs
`run.audit`. Everything else is imported lazily.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from editsearch.core.lazy import lazy_exports

_EXPORTS = {
    "audit": "editsearch.audit.run",
    "run_audit": "editsearch.audit.run",
    "CHECKS": "editsearch.audit.checks.registry",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)


class _CallablePackage(types.ModuleType):
    """The package's module type: calling it is calling `editsearch.audit.run.audit`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return importlib.import_module("editsearch.audit.run").audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
