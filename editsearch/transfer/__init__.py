"""Applying a found edit: EditCLIP tokens -> Linear + LayerNorm -> InstructPix2Pix (diffusers), and the other methods.

Its exports load on first use, so the pipeline names and the methods' registry are read without importing torch.
"""

from __future__ import annotations

from editsearch.core.lazy import lazy_exports

_EXPORTS = {
    "DEFAULT_PIPELINE": "editsearch.transfer.pipeline_names",
    "PIPELINES": "editsearch.transfer.pipeline_names",
    "EditProjector": "editsearch.transfer.projector",
    "EditTransfer": "editsearch.transfer.pipeline",
    "resolve_pipeline": "editsearch.transfer.pipeline_names",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
