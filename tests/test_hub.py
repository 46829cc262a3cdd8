"""Weights sources: registry names, folders and hub ids resolve one way for models and pipelines."""

from __future__ import annotations

import pytest

from editsearch.core.errors import WeightsNotFoundError
from editsearch.core.hub import WeightsSource, hub_offline, resolve_source

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


def test_missing_hub_weights_name_the_hf_download_command_the_installed_hub_has(tmp_path, monkeypatch):
    """The how-to is `hf download` (huggingface_hub's CLI; `huggingface-cli` is gone), and the installed CLI
    parses it into exactly the files the loader needs, each pattern behind its own --include."""
    import shlex
    from importlib.metadata import entry_points

    from click.testing import CliRunner
    from huggingface_hub.cli import download
    from huggingface_hub.cli.hf import app

    from editsearch.core.hub import hub_snapshot

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    patterns = ["model_index.json", "unet/*", "vae/*"]
    with pytest.raises(WeightsNotFoundError, match="pass --model DIR") as missing:
        hub_snapshot("owner/repo", "the pipeline", patterns, "--model")
    message = str(missing.value)
    assert "huggingface-cli" not in message
    command = message.split("`")[1]
    assert command == "hf download owner/repo --local-dir DIR --include model_index.json --include 'unet/*' " + (
        "--include 'vae/*'"
    )
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts.get("hf", "").startswith("huggingface_hub.")  # the command named exists in this install
    seen: dict = {}
    monkeypatch.setattr(download, "snapshot_download", lambda *a, **kw: seen.update(kw) or str(tmp_path))
    parsed = CliRunner().invoke(app, shlex.split(command)[1:])
    assert parsed.exit_code == 0, parsed.output
    assert (seen["repo_id"], seen["local_dir"], seen["allow_patterns"]) == ("owner/repo", "DIR", patterns)
