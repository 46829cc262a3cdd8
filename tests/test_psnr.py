"""PSNR: one formula, for an MSE at any value range and for two 8-bit images."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from editsearch.evaluation.transfer import image_psnr, psnr_from_mse


def test_psnr_from_mse_is_scale_free():
    assert psnr_from_mse(100.0) == pytest.approx(10 * math.log10(255**2 / 100))
    assert psnr_from_mse(100.0 * (2 / 255) ** 2, peak=2.0) == pytest.approx(psnr_from_mse(100.0))
    assert psnr_from_mse(0.0) == pytest.approx(120.0) == psnr_from_mse(0.0, peak=2.0)  # identical: capped


def test_image_psnr_measures_the_pixel_error():
    a = np.full((8, 6, 3), 100, np.uint8)
    same, off = Image.fromarray(a), Image.fromarray(a + 10)
    assert image_psnr(same, off) == pytest.approx(psnr_from_mse(100.0))
    assert image_psnr(same, off.resize((12, 16))) == pytest.approx(psnr_from_mse(100.0))  # resized to match
    assert image_psnr(same, same) > image_psnr(same, off)
