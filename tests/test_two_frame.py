"""The two-frame (ViFi-CLIP style) pair fusion: config, forward, reversal blindness, ONNX export, registry, trainer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import random_image, tiny_config

from editsearch.core.errors import UsageError
from editsearch.core.hub import WeightsSource
from editsearch.encoder import EditCLIPConfig, WeightsNotFoundError, load_model
from editsearch.encoder.registry import MODELS, random_model
from editsearch.evaluation.retrieval import EvalSet
from editsearch.evaluation.reversal import SELF_INVERSE, directional, evaluate_reversal, reversal_metrics


@pytest.fixture(scope="module")
def frames_model():
    """A tiny random frames model (seed 0)."""
    return random_model(tiny_config().with_fusion("frames"), seed=0)


def pairs(n: int) -> tuple[list, list]:
    return [random_image(i) for i in range(n)], [random_image(100 + i) for i in range(n)]


def test_config_fusion_sets_conv1_width_and_old_files_load_as_channels(tmp_path) -> None:
    frames = tiny_config().with_fusion("frames")
    assert (frames.pair_fusion, frames.in_channels) == ("frames", 3)
    assert frames.with_fusion("channels").in_channels == 6
    old = tiny_config().to_dict()
    del old["pair_fusion"]
    (tmp_path / "config.json").write_text(json.dumps(old))
    loaded = EditCLIPConfig.load(tmp_path / "config.json")
    assert (loaded.pair_fusion, loaded.in_channels) == ("channels", 6)
    frames.save(tmp_path / "frames.json")
    assert EditCLIPConfig.load(tmp_path / "frames.json") == frames
    with pytest.raises(UsageError, match="in_channels must be 3"):
        EditCLIPConfig.from_dict(tiny_config().to_dict() | {"pair_fusion": "frames"})
    with pytest.raises(UsageError, match="pair_fusion must be one of"):
        EditCLIPConfig.from_dict(tiny_config().to_dict() | {"pair_fusion": "video"})


def test_a_channels_fingerprint_ignores_the_new_key(tiny_model, monkeypatch) -> None:
    """Indexes built before the key existed keep matching their model."""
    before = tiny_model.fingerprint
    to_dict = EditCLIPConfig.to_dict
    monkeypatch.setattr(
        EditCLIPConfig, "to_dict", lambda self: {k: v for k, v in to_dict(self).items() if k != "pair_fusion"}
    )
    del tiny_model.__dict__["fingerprint"]  # the cached property, computed again with the old config dict
    assert tiny_model.fingerprint == before


def test_frames_average_each_image_through_a_three_channel_tower(frames_model) -> None:
    assert frames_model.visual.conv1.in_channels == 3
    b, a = pairs(3)
    emb = frames_model.embed_pairs(b, a, batch_size=2)
    t = frames_model.pair_transform
    with torch.no_grad():
        alone = [frames_model.visual(torch.stack([t.image(x) for x in side])) for side in (b, a)]
    np.testing.assert_allclose(emb.numpy(), F.normalize((alone[0] + alone[1]) / 2, dim=-1).numpy(), atol=1e-5)
    assert frames_model.edit_tokens(b, a).shape == (3, (32 // 8) ** 2 + 1, 32)
    assert frames_model.fingerprint != random_model(tiny_config(), seed=0).fingerprint


def test_frames_cannot_tell_a_pair_from_its_reverse_channels_can(frames_model, tiny_model) -> None:
    b, a = pairs(4)
    frames_fwd, frames_bwd = frames_model.embed_pairs(b, a), frames_model.embed_pairs(a, b)
    assert torch.allclose(frames_fwd, frames_bwd, atol=1e-6)
    assert not torch.allclose(tiny_model.embed_pairs(b, a), tiny_model.embed_pairs(a, b), atol=1e-3)


def test_reversal_metrics_count_ties_as_half() -> None:
    fwd, bwd = torch.tensor([0.5, 0.2, 0.3, 0.4]), torch.tensor([0.1, 0.6, 0.3, 0.4 + 1e-8])
    m = reversal_metrics(fwd, bwd)
    assert m == pytest.approx({"accuracy": 0.5, "ties": 0.5, "margin": 0.0, "pairs": 4}, abs=1e-7)
    assert reversal_metrics(torch.tensor([0.9]), torch.tensor([0.1]))["accuracy"] == 1.0


def test_reversed_split_is_exactly_chance_for_frames(frames_model, tiny_model) -> None:
    b, a = pairs(6)
    labels = ["brighter", "sepia", "invert", "blur", "snow", "flip_horizontal"]
    texts = ["make it brighter", "sepia", "negative", None, "add snow", "mirror it"]
    es = EvalSet(b, a, labels, [f"p{i}" for i in range(6)], {}, texts)
    assert directional(es) == [0, 1, 4]  # no instruction, or an edit that is its own reverse: left out
    assert {"invert", "flip_horizontal"} <= SELF_INVERSE
    frames = evaluate_reversal(frames_model, es)
    assert frames is not None and frames["pairs"] == 3
    assert frames["accuracy"] == 0.5 and frames["ties"] == 1.0
    channels = evaluate_reversal(tiny_model, es)
    assert channels is not None and channels["ties"] == 0.0 and channels["margin"] != 0.0


def test_frames_export_to_onnx_and_match_torch(frames_model, tmp_path) -> None:
    from editsearch.encoder.export import export_towers
    from editsearch.towers.runtime import open_vision_tower

    frames_model.save_pretrained(tmp_path / "model")
    model = load_model(str(tmp_path / "model"), device="cpu")
    assert model.config.pair_fusion == "frames" and model.fingerprint == frames_model.fingerprint
    assert export_towers(model, model.name, text=False)
    tower = open_vision_tower(model.fingerprint)
    assert tower is not None
    b, a = pairs(3)
    fast = tower.embed_pairs(list(zip(b, a, strict=True)), batch_size=2)
    np.testing.assert_allclose(fast, model.embed_pairs(b, a).numpy(), atol=1e-5)
    np.testing.assert_allclose(tower.embed_pairs(list(zip(a, b, strict=True))), fast, atol=1e-5)


def test_twoframe_mini_without_weights_says_how_to_train_them(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(MODELS, "twoframe-mini", WeightsSource("dir", str(tmp_path / "absent"), "not shipped"))
    with pytest.raises(WeightsNotFoundError, match="--pair-fusion frames --name twoframe-mini"):
        load_model("twoframe-mini", device="cpu")


def test_build_model_gives_mini_either_fusion_and_keeps_a_trained_models_own(tiny_model_dir) -> None:
    from editsearch.training.train_editclip import build_model

    mini, fresh = build_model("mini", "frames")
    assert fresh and mini.config.pair_fusion == "frames" and mini.visual.conv1.in_channels == 3
    assert build_model(str(tiny_model_dir))[0].config.pair_fusion == "channels"
    with pytest.raises(UsageError, match="keeps its fusion"):
        build_model(str(tiny_model_dir), "frames")


def test_recipes_offer_the_configs_fusions() -> None:
    from dataclasses import fields

    from editsearch.encoder.config import PAIR_FUSIONS
    from editsearch.training.recipes import OPTION, EditCLIPTrainConfig

    spec = next(f for f in fields(EditCLIPTrainConfig) if f.name == "pair_fusion").metadata[OPTION]
    assert tuple(spec["choices"]) == PAIR_FUSIONS
