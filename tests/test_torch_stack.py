"""A torchvision built for another torch is one clear error line naming the release to install, not a traceback."""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder

import pytest
from click.testing import CliRunner

from editsearch.cli.main import cli
from editsearch.core.errors import MissingDependencyError
from editsearch.encoder import torch_stack

NMS = "operator torchvision::nms does not exist"


class BrokenImport(MetaPathFinder):
    """Makes importing `name` fail as `error` does (a torchvision whose C++ ops do not fit the torch it meets)."""

    def __init__(self, name: str, error: Exception) -> None:
        self.name, self.error = name, error

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name:
            raise self.error
        return None


def break_import(monkeypatch, name: str, error: Exception) -> None:
    """Forget torchvision and open_clip (restored after the test) and make importing `name` raise `error`."""
    for module in [m for m in sys.modules if m.split(".")[0] in ("torchvision", "open_clip")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(sys, "meta_path", [BrokenImport(name, error), *sys.meta_path])


def installed(monkeypatch, torch: str, torchvision: str, pins: list[str] | None = None) -> None:
    """Pretend these versions are installed (and that torchvision declares these requirements)."""
    monkeypatch.setattr(torch_stack, "version", {"torch": torch, "torchvision": torchvision}.__getitem__)
    monkeypatch.setattr(torch_stack, "requires", lambda name: pins or [])


def test_a_mismatched_torchvision_is_one_error_line_naming_the_release_to_install(monkeypatch, tiny_model_dir):
    break_import(monkeypatch, "torchvision", RuntimeError(f"{NMS}\n  (and 60 more lines of traceback)"))
    installed(monkeypatch, "2.5.1+cu121", "0.19.1", ["torch==2.4.1", "numpy"])
    result = CliRunner().invoke(cli, ["eval", "--model", str(tiny_model_dir), "--per-family", "1", "--no-baselines"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception is not None
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == [
        "Error: torchvision 0.19.1 does not match torch 2.5.1+cu121: pip install torchvision==0.20.1 "
        "--index-url https://download.pytorch.org/whl/cu121 (the release built for torch 2.5.1)"
        f"; importing it failed with RuntimeError: {NMS}"
    ]


@pytest.mark.parametrize(
    ("torch", "torchvision", "pins", "expected"),
    [
        ("2.14.1", "0.29.1", ["torch (>=2.14.0)"], None),
        ("2.5.1", "0.20.1", ["torch==2.5.1"], None),
        ("2.5.1", "0.19.0", [], "torchvision 0.19.0 does not match torch 2.5.1: pip install torchvision==0.20.1 "),
        ("2.5.0", "0.20.1", ["torch==2.5.1"], "pip install torchvision==0.20.0 (the release built for torch 2.5.0)"),
        ("2.0.1", "0.16.0", [], "pip install torchvision==0.15.2 "),
        ("1.13.1", "0.15.1", [], "pip install torchvision==0.14.1 "),
        ("3.0.0", "0.1.0", ["torch==2.9.0"], "install the torchvision release built for torch 3.0.0"),
    ],
)
def test_the_torchvision_release_for_a_torch(monkeypatch, torch, torchvision, pins, expected):
    installed(monkeypatch, torch, torchvision, pins)
    problem = torch_stack.torchvision_mismatch()
    assert problem is None if expected is None else expected in problem, problem


def test_an_import_failure_with_matching_versions_is_raised_as_it_was(monkeypatch):
    break_import(monkeypatch, "torchvision", RuntimeError(NMS))
    installed(monkeypatch, "2.5.1", "0.20.1", ["torch==2.5.1"])
    with pytest.raises(RuntimeError, match="nms"):
        torch_stack.import_open_clip()


def test_a_missing_open_clip_names_its_package(monkeypatch):
    break_import(monkeypatch, "open_clip", ModuleNotFoundError("No module named 'open_clip'", name="open_clip"))
    with pytest.raises(MissingDependencyError, match="pip install open_clip_torch"):
        torch_stack.import_open_clip()
