"""Weights sources: registry names, folders and hub ids resolve one way for models and pipelines."""

from __future__ import annotations

import pytest

from editsearch.errors import WeightsNotFoundError
from editsearch.hub import WeightsSource, hub_offline, resolve_source

REGISTRY = {"shipped": WeightsSource("dir", "/nowhere/shipped", "a shipped model")}


@pytest.mark.parametrize(("value", "offline"), [("1", True), ("true", True), ("0", False), ("", False), (None, False)])
def test_hub_offline_reads_the_environment(monkeypatch, value, offline):
    if value is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert hub_offline() is offline


def test_resolve_source_registry_folder_hub_or_error(tmp_path):
    assert resolve_source("shipped", REGISTRY, "model") is REGISTRY["shipped"]
    assert resolve_source(str(tmp_path), REGISTRY, "model").kind == "dir"
    assert resolve_source("owner/repo", REGISTRY, "model") == WeightsSource(
        "hub", "owner/repo", "the hub repo owner/repo"
    )
    for missing in ("no-such-thing", str(tmp_path / "gone"), "./owner/repo"):
        with pytest.raises(WeightsNotFoundError, match="no pipeline named .*not one of: shipped"):
            resolve_source(missing, REGISTRY, "pipeline")
