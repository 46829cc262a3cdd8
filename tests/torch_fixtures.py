"""Fixtures for the tests of tiny diffusion pipelines."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Two busy cores: one torch thread runs these tiny models several times faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
