"""Applying a found edit: EditCLIP tokens -> Linear + LayerNorm -> InstructPix2Pix (diffusers)."""

from editsearch.transfer.pipeline import EditTransfer
from editsearch.transfer.pipeline_names import DEFAULT_PIPELINE, PIPELINES, resolve_pipeline
from editsearch.transfer.projector import EditProjector

__all__ = ["DEFAULT_PIPELINE", "PIPELINES", "EditProjector", "EditTransfer", "resolve_pipeline"]
