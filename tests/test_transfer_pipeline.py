"""EditTransfer on a tiny random IP2P (diffusers' test config): sizes, determinism, guidance batching, layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_image, tiny_config

from editsearch.encoder import WeightsNotFoundError


def tiny_transfer(editclip, seed: int = 0):
    """diffusers' tiny test UNet + 2-block VAE + a projector from the tiny EditCLIP's tokens to 32-d."""
    from editsearch.transfer import EditProjector, EditTransfer
    from editsearch.transfer.architectures import build_unet, build_vae

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        projector = EditProjector(editclip.vision_width, 32)
    unet, vae = build_unet("test", seed=seed), build_vae("test", seed=seed)
    return EditTransfer.from_components(unet, vae, projector, editclip).to("cpu", torch.float32)


@pytest.fixture(scope="module")
def transfer(tiny_model):
    return tiny_transfer(tiny_model)


EXEMPLAR = (random_image(1, (40, 48)), random_image(2, (40, 48)))
FAST = {"steps": 2, "size": 32}


def _arr(img) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)


def test_output_sizes_and_seeded_determinism(transfer):
    queries = [random_image(3, (32, 32)), random_image(4, (64, 32))]
    first = transfer.apply(*EXEMPLAR, queries, seed=7, **FAST)
    again = transfer.apply(*EXEMPLAR, queries, seed=7, **FAST)
    other = transfer.apply(*EXEMPLAR, queries[:1], seed=8, **FAST)
    assert [im.size for im in first] == [(32, 32), (44, 24)]
    assert [im.size for im in first] == [transfer.working_size(*q.size, size=32) for q in queries]
    assert all(im.mode == "RGB" for im in first)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(_arr(a), _arr(b))
    assert not np.array_equal(_arr(first[0]), _arr(other[0]))
    assert transfer.resolution == 64 and transfer.size_multiple == 4


def test_an_output_does_not_depend_on_its_batch(transfer):
    q = random_image(5, (32, 32))
    alone = transfer.apply(*EXEMPLAR, [q], seed=1, **FAST)[0]
    batched = transfer.apply(*EXEMPLAR, [random_image(6, (32, 32)), q], seed=1, **FAST)[1]
    assert np.abs(_arr(alone) - _arr(batched)).max() <= 2


def test_guidance_batches_cond_null_null_with_image_img_img_zero(transfer):
    seen = []
    hook = transfer.pipe.unet.register_forward_pre_hook(
        lambda mod, args, kwargs: seen.append((args[0].detach().clone(), kwargs["encoder_hidden_states"].clone())),
        with_kwargs=True,
    )
    try:
        transfer.apply(*EXEMPLAR, [random_image(3, (32, 32))], seed=0, **FAST)
    finally:
        hook.remove()
    sample, cond = seen[0]
    assert sample.shape == (3, 8, 16, 16) and cond.shape == (3, 17, 32)
    torch.testing.assert_close(cond[0], transfer.encode_edit(*EXEMPLAR)[0])
    assert cond[0].abs().sum() > 0 and not cond[1:].any()
    image_latents = sample[:, 4:]
    torch.testing.assert_close(image_latents[0], image_latents[1])
    assert image_latents[0].abs().sum() > 0 and not image_latents[2].any()


def test_official_layout_round_trip(transfer, tiny_model, tmp_path):
    from editsearch.transfer import EditTransfer

    folder = transfer.save_pretrained(tmp_path / "pipe")
    for rel in (
        "model_index.json",
        "unet/config.json",
        "vae/config.json",
        "scheduler/scheduler_config.json",
        "image_proj_model.pt",
        "editsearch.json",
    ):
        assert (folder / rel).is_file(), rel
    assert json.loads((folder / "scheduler/scheduler_config.json").read_text())["_class_name"] == (
        "EulerAncestralDiscreteScheduler"
    )
    assert json.loads((folder / "editsearch.json").read_text())["editclip_fingerprint"] == tiny_model.fingerprint
    loaded = EditTransfer.from_pretrained(folder, editclip=tiny_model, device="cpu")
    assert loaded.dtype == torch.float32
    q = [random_image(3, (32, 32))]
    want = transfer.apply(*EXEMPLAR, q, seed=11, **FAST)[0]
    got = loaded.apply(*EXEMPLAR, q, seed=11, **FAST)[0]
    assert np.array_equal(_arr(want), _arr(got))


def test_clear_errors_for_missing_weights_and_wrong_encoder(transfer, tmp_path):
    from editsearch.encoder.registry import random_model
    from editsearch.transfer import EditTransfer
    from editsearch.transfer.pipeline_names import DEFAULT_PIPELINE, PIPELINES

    with pytest.raises(WeightsNotFoundError, match="not a folder"):
        EditTransfer.from_pretrained(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsNotFoundError, match="unet/"):
        EditTransfer.from_pretrained(tmp_path / "empty")
    with pytest.raises(WeightsNotFoundError, match="`hf download "):
        EditTransfer.from_pretrained("nobody-here/no-such-pipeline")
    plain = transfer.save_pretrained(tmp_path / "plain")
    (plain / "image_proj_model.pt").unlink()
    with pytest.raises(WeightsNotFoundError, match="plain InstructPix2Pix"):
        EditTransfer.from_pretrained(plain)
    if not (Path(PIPELINES[DEFAULT_PIPELINE].location) / "unet").is_dir():
        with pytest.raises(WeightsNotFoundError, match="editsearch train ip2p"):
            EditTransfer.from_pretrained()
    wider = tiny_config()
    wider.vision = dict(wider.vision, width=64)
    with pytest.raises(ValueError, match="width 64"):
        EditTransfer(transfer.pipe, transfer.projector, random_model(wider))
