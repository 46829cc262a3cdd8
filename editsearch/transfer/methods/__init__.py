"""The ways to apply a found edit behind one interface: `EditMethod`, its `ApplyRequest`, its `ApplyReport`.

Its exports load on first use; the registry (`get_method`, `names`) imports no torch.
"""

from __future__ import annotations

from editsearch.core.lazy import lazy_exports

_EXPORTS = {
    "Applied": "editsearch.transfer.methods.report",
    "ApplyReport": "editsearch.transfer.methods.report",
    "ApplyRequest": "editsearch.transfer.methods.base",
    "EditMethod": "editsearch.transfer.methods.base",
    "ExemplarChoice": "editsearch.transfer.methods.base",
    "get_method": "editsearch.transfer.methods.registry",
    "names": "editsearch.transfer.methods.registry",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
