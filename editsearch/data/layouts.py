"""Column layouts of edit-pair tables: presets for the public data sets, detected by schema, or named by --columns.

Each preset follows the columns its data set's published card lists (the card named beside it). Any other
scalar column of a table becomes metadata; any other image column (a mask, a visual prompt) is kept in the
metadata as its image locator, not indexed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from editsearch.core.errors import DataError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa

ROLES = ("before", "after", "instruction", "id")
COLUMNS_HELP = "before=C,after=C[,instruction=C][,id=C]"


@dataclass(frozen=True)
class Layout:
    """Which column holds what: the two images, the instruction, an id, and text columns kept under another key."""

    name: str  # the preset's name (also each pair's `source`), or "columns" for --columns
    before: str
    after: str
    instruction: str | None = None
    id: str | None = None
    renamed: tuple[tuple[str, str], ...] = ()  # (column, metadata key)
    card: str | None = None  # the published data set card a preset follows

    def uses(self) -> dict[str, str]:
        """column -> its use, for the columns this layout names."""
        named = {self.before: "before", self.after: "after"}
        if self.instruction:
            named[self.instruction] = "instruction"
        if self.id:
            named[self.id] = "id (metadata 'id')"
        return named | {column: f"metadata '{key}'" for column, key in self.renamed}


PRESETS = (
    # huggingface.co/datasets/osunlp/MagicBrush: img_id, turn_index, source_img, mask_img, instruction, target_img
    Layout("magicbrush", "source_img", "target_img", "instruction", card="osunlp/MagicBrush"),
    # huggingface.co/datasets/UCSC-VLAA/HQ-Edit: input, input_image, edit, inverse_edit, output, output_image
    Layout(
        "hq-edit",
        "input_image",
        "output_image",
        "edit",
        renamed=(("inverse_edit", "inverse_instruction"),),
        card="UCSC-VLAA/HQ-Edit",
    ),
    # huggingface.co/datasets/BleachNick/UltraEdit (also UltraEdit_500k, UltraEdit_Region_Based_100k): clip_sim_*,
    # dinov2_sim, ssim, source_caption, target_caption, idx, edit_prompt, edit_object, source_image, edited_image,
    # mask_image (an image in the region-based splits, all null in the free-form ones)
    Layout("ultraedit", "source_image", "edited_image", "edit_prompt", card="BleachNick/UltraEdit"),
    # huggingface.co/datasets/TIGER-Lab/OmniEdit-Filtered-1.2M: omni_edit_id, task, src_img, edited_img,
    # edited_prompt_list (a list of phrasings: the first is the instruction), width, height, sc_*, pq_*, o_score
    Layout("omniedit", "src_img", "edited_img", "edited_prompt_list", card="TIGER-Lab/OmniEdit-Filtered-1.2M"),
    # huggingface.co/datasets/Bin1117/AnyEdit: image_id, edit_instruction, edit_type, image_file, edited_file,
    # visual_input (an image), input, output
    Layout("anyedit", "image_file", "edited_file", "edit_instruction", card="Bin1117/AnyEdit"),
    # huggingface.co/datasets/timbrooks/instructpix2pix-clip-filtered: original_prompt, original_image,
    # edit_prompt, edited_prompt, edited_image
    Layout("ip2p", "original_image", "edited_image", "edit_prompt", card="timbrooks/instructpix2pix-clip-filtered"),
    # huggingface.co/datasets/fusing/instructpix2pix-1000-samples: input_image, edit_prompt, edited_image
    Layout("ip2p", "input_image", "edited_image", "edit_prompt", card="fusing/instructpix2pix-1000-samples"),
)


def parse_columns(text: str) -> dict[str, str]:
    """{role: column} from `before=C,after=C[,instruction=C][,id=C]`; UsageError when malformed."""
    out: dict[str, str] = {}
    for part in text.split(","):
        role, sep, column = (s.strip() for s in part.partition("="))
        if not sep or not column or role not in ROLES:
            raise UsageError(f"--columns takes {COLUMNS_HELP}, got {text!r}")
        if role in out:
            raise UsageError(f"--columns names {role} twice")
        out[role] = column
    if "before" not in out or "after" not in out:
        raise UsageError(f"--columns needs before= and after= ({COLUMNS_HELP})")
    return out


def detect_layout(schema: pa.Schema, columns: Mapping[str, str] | None = None) -> Layout:
    """The layout of a table: the one `columns` names, else the preset its schema matches (DataError if none)."""
    if columns:
        return _named_layout(schema, columns)
    names = set(schema.names)
    for preset in PRESETS:
        if {preset.before, preset.after} <= names and all(
            is_image_type(schema.field(c).type) for c in (preset.before, preset.after)
        ):
            return _without_missing(preset, names)
    images = [f.name for f in schema if is_image_type(f.type, paths=False)]
    if not images:
        raise DataError(f"no image columns; its columns are {describe_columns(schema)}")
    raise DataError(
        f"no known layout (image columns: {', '.join(images)}); its columns are {describe_columns(schema)}; "
        f"name them with --columns {COLUMNS_HELP}"
    )


def _named_layout(schema: pa.Schema, columns: Mapping[str, str]) -> Layout:
    """The layout --columns names, each column checked against the schema."""
    names = set(schema.names)
    missing = [f"{role}={c}" for role, c in columns.items() if c not in names]
    if missing:
        raise DataError(f"no column {', '.join(missing)}; its columns are {describe_columns(schema)}")
    for role in ("before", "after"):
        if not is_image_type(schema.field(columns[role]).type):
            raise DataError(f"column {columns[role]!r} ({role}) holds no images: {_type_name(schema, columns[role])}")
    text = columns.get("instruction")
    if text and not is_text_type(schema.field(text).type):
        raise DataError(f"column {text!r} (instruction) holds no text: {_type_name(schema, text)}")
    return Layout("columns", columns["before"], columns["after"], text, columns.get("id"))


def _without_missing(preset: Layout, names: set[str]) -> Layout:
    """The preset with the optional columns this table lacks dropped."""
    instruction = preset.instruction if preset.instruction in names else None
    renamed = tuple((c, k) for c, k in preset.renamed if c in names)
    return Layout(preset.name, preset.before, preset.after, instruction, preset.id, renamed, preset.card)


def is_image_type(dtype: pa.DataType, paths: bool = True) -> bool:
    """Image cells: a `datasets` Image struct ({bytes, path}), plain binary, or (with `paths`) a path string."""
    import pyarrow.types as t

    if t.is_struct(dtype):
        fields = {dtype.field(i).name for i in range(dtype.num_fields)}
        return "bytes" in fields or "path" in fields
    return (
        t.is_binary(dtype) or t.is_large_binary(dtype) or (paths and (t.is_string(dtype) or t.is_large_string(dtype)))
    )


def is_text_type(dtype: pa.DataType) -> bool:
    """A string, or a list of strings (several phrasings: the first non-empty one is used)."""
    import pyarrow.types as t

    if t.is_list(dtype) or t.is_large_list(dtype):
        dtype = dtype.value_type
    return t.is_string(dtype) or t.is_large_string(dtype)


def is_scalar_type(dtype: pa.DataType) -> bool:
    """Columns that go into metadata as they are: strings, numbers, booleans."""
    import pyarrow.types as t

    return any(check(dtype) for check in (t.is_string, t.is_large_string, t.is_integer, t.is_floating, t.is_boolean))


def type_name(dtype: pa.DataType) -> str:
    """A short name of a column type: 'image' for a `datasets` Image struct, else arrow's own."""
    import pyarrow.types as t

    return "image" if t.is_struct(dtype) and is_image_type(dtype) else str(dtype)


def _type_name(schema: pa.Schema, column: str) -> str:
    return type_name(schema.field(column).type)


def describe_columns(schema: pa.Schema) -> str:
    """'a (string), b (image), ...' for an error message."""
    return ", ".join(f"{f.name} ({type_name(f.type)})" for f in schema)
