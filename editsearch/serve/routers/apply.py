"""Apply: an indexed or uploaded exemplar edit applied to an uploaded photo, through the apply gate; the methods."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from editsearch.core.errors import UsageError
from editsearch.data.thumbnails import encode
from editsearch.serve.deps import EngineDep, GateDep, SettingsDep
from editsearch.serve.engine import Engine
from editsearch.serve.shapes import public_name
from editsearch.serve.uploads import decode, read_pair, read_upload
from editsearch.transfer.methods.registry import METHODS

MAX_SEED = 2**63 - 1  # torch generators take a 64-bit seed; SQLite and JSON readers a signed one
SERVED_METHOD = "editclip"  # the method /api/apply runs, on the server's pooled pipelines

router = APIRouter(tags=["apply"])


@router.get("/api/methods")
def methods() -> dict[str, Any]:
    """The ways to apply an edit (name, one-line summary), and whether /api/apply runs each (`served`)."""
    rows = [{"name": m.name, "summary": m.summary, "served": m.name == SERVED_METHOD} for m in METHODS.values()]
    return {"methods": rows}


@router.post(
    "/api/apply",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "application/json": {}}}},
)
async def apply(
    engine: EngineDep,
    gate: GateDep,
    settings: SettingsDep,
    image: Annotated[UploadFile, File(description="The photo to edit.")],
    edit_id: Annotated[int | None, Form(description="The indexed edit to apply.")] = None,
    before: Annotated[UploadFile | None, File(description="Or: an exemplar before image.")] = None,
    after: Annotated[UploadFile | None, File(description="Or: an exemplar after image.")] = None,
    steps: Annotated[int, Form(ge=1, le=100)] = 50,
    seed: Annotated[int, Form(ge=0, le=MAX_SEED, description="Random seed (0 to 2**63 - 1).")] = 0,
    format: Annotated[Literal["png", "json"], Query(description="png: the image; json: image + EC2EC")] = "png",
) -> Response:
    """Apply an exemplar edit to an uploaded photo: the edited PNG (EC2EC in the X-EC2EC header), or JSON."""
    pair = await read_pair(before, after, settings.max_bytes)
    if (pair is None) == (edit_id is None):
        raise UsageError("give either edit_id or an exemplar pair (before and after files), not both")
    photo = await run_in_threadpool(decode, await read_upload(image, settings.max_bytes), image.filename or "image")
    result = await gate.run(run_apply, engine, edit_id, pair, photo, steps, seed)
    if format == "json":
        png = result.pop("png")
        return JSONResponse({**result, "image": "data:image/png;base64," + base64.b64encode(png).decode()})
    headers = {"X-EC2EC": f"{result['ec2ec']:.6f}", "X-Apply-Seconds": f"{result['seconds']:.3f}"}
    return Response(result["png"], media_type="image/png", headers=headers)


def run_apply(engine: Engine, edit_id: int | None, pair: Any, photo: Any, steps: int, seed: int) -> dict[str, Any]:
    """Apply an indexed or uploaded exemplar to one photo on a pooled pipeline: PNG bytes, EC2EC, timing."""
    from editsearch.transfer.apply import apply_edit
    from editsearch.transfer.exemplar import exemplar_from_files, exemplar_from_index

    started = time.perf_counter()
    exemplar = exemplar_from_index(engine.index_dir, edit_id) if pair is None else exemplar_from_files(*pair)
    with engine.transfer() as transfer:
        report = apply_edit(transfer, exemplar, [photo], steps=steps, seed=seed, model=engine.pipeline)
        pipeline = pipeline_json(engine.pipeline, transfer)
    applied = report.outputs[0]
    edit = exemplar.describe() if edit_id is not None else {"id": None, "instruction": None}
    return {
        "png": encode(applied.output, "PNG"),
        "ec2ec": applied.ec2ec,
        "size": list(applied.output.size),
        "edit": {key: edit.get(key) for key in ("id", "instruction")},
        "settings": {"steps": steps, "seed": seed},
        "pipeline": pipeline,
        "seconds": round(time.perf_counter() - started, 3),
    }


def pipeline_json(pipeline: str | Path | None, transfer: Any) -> dict[str, Any]:
    """The pipeline that applied an edit: its name (no path), whether it is the shipped demonstration, its size."""
    from editsearch.transfer.pipeline_names import DEFAULT_PIPELINE, is_demonstration

    name = str(pipeline or DEFAULT_PIPELINE)
    return {"name": public_name(name), "demonstration": is_demonstration(name), "resolution": int(transfer.resolution)}
