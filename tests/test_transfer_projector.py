"""EditProjector: shapes, null condition, our format round trip, the official image_proj_model.pt keys."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from editsearch.encoder import WeightsNotFoundError
from editsearch.transfer import EditProjector


def _official_state(vision_width: int = 24, cross_dim: int = 16, tokens: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "proj.weight": torch.randn(tokens * cross_dim, vision_width, generator=g),
        "proj.bias": torch.randn(tokens * cross_dim, generator=g),
        "norm.weight": torch.rand(cross_dim, generator=g) + 0.5,
        "norm.bias": torch.randn(cross_dim, generator=g),
    }


def test_projects_every_token_and_null_is_zeros():
    proj = EditProjector(24, 16)
    tokens = torch.randn(3, 7, 24)
    out = proj(tokens)
    assert out.shape == (3, 7, 16)
    assert proj(tokens[0]).shape == (1, 7, 16)
    torch.testing.assert_close(out[1], proj(tokens[1:2])[0])
    null = EditProjector.null_condition(out)
    assert null.shape == out.shape and not null.any()
    with pytest.raises(ValueError, match="expected tokens"):
        proj(torch.randn(2, 7, 25))


def test_loads_official_image_proj_model_pt(tmp_path):
    state = _official_state()
    torch.save(state, tmp_path / "image_proj_model.pt")
    for src in (tmp_path, tmp_path / "image_proj_model.pt"):
        proj = EditProjector.from_pretrained(src)
        assert (proj.vision_width, proj.cross_attention_dim) == (24, 16)
        x = torch.randn(2, 5, 24)
        want = F.layer_norm(
            F.linear(x, state["proj.weight"], state["proj.bias"]), (16,), state["norm.weight"], state["norm.bias"]
        )
        torch.testing.assert_close(proj(x), want)


def test_official_file_round_trip_and_own_format(tmp_path):
    proj = EditProjector(24, 16)
    x = torch.randn(1, 4, 24)
    official = EditProjector.from_pretrained(proj.save_official(tmp_path / "a" / "image_proj_model.pt"))
    assert set(torch.load(tmp_path / "a" / "image_proj_model.pt", weights_only=True)) == {
        "proj.weight",
        "proj.bias",
        "norm.weight",
        "norm.bias",
    }
    own = EditProjector.from_pretrained(proj.save_pretrained(tmp_path / "b"))
    assert (tmp_path / "b" / "config.json").exists() and (tmp_path / "b" / "model.safetensors").exists()
    for loaded in (official, own):
        torch.testing.assert_close(loaded(x), proj(x))


def test_rejects_multi_token_projectors_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="one context token"):
        EditProjector.from_state_dict(_official_state(tokens=4))
    with pytest.raises(ValueError, match="missing"):
        EditProjector.from_state_dict({"proj.weight": torch.zeros(2, 2)})
    with pytest.raises(WeightsNotFoundError):
        EditProjector.from_pretrained(tmp_path)
