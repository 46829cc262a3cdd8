"""open_clip and the torchvision under it, imported in one place: a torchvision built for another torch is one
clear error naming the release to install, not a long traceback from inside torchvision."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, requires, version
from types import ModuleType

from editsearch.core.errors import MissingDependencyError

PACKAGES = {"torchvision": "torchvision", "open_clip": "open_clip_torch"}  # module -> distribution
WHEELS = "https://download.pytorch.org/whl"  # where the CUDA builds (torch 2.5.1+cu121, ...) are published


def import_open_clip() -> ModuleType:
    """open_clip and torchvision; MissingDependencyError when either is missing or built for another torch.

    A torchvision of another torch release fails on import in many ways (RuntimeError: operator
    torchvision::nms does not exist; an undefined symbol; a half-initialised module), so any failure is
    checked against the installed versions; one that is no version mismatch is raised as it was.
    """
    try:
        import open_clip
        import torchvision  # noqa: F401 - what a build for another torch breaks (open_clip imports it too)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in PACKAGES:
            raise
        package = PACKAGES[(e.name or "").split(".")[0]]
        raise MissingDependencyError(f"EditCLIP needs {package}: pip install {package}") from None
    except Exception as e:
        problem = torchvision_mismatch()
        if problem is None:
            raise
        reason = (str(e).strip().splitlines() or [""])[0][:160]
        raise MissingDependencyError(f"{problem}; importing it failed with {type(e).__name__}: {reason}") from None
    return open_clip


def torchvision_mismatch() -> str | None:
    """What to install when the installed torchvision was built for another torch than the installed one, else None."""
    try:
        torch_version, vision_version = version("torch"), version("torchvision")
    except PackageNotFoundError:
        return None
    wanted = torchvision_for(torch_version)
    pinned = torch_pin(requires("torchvision") or [])
    fits = wanted is None or release(vision_version)[:2] == release(wanted)[:2]
    if fits and (pinned is None or release(pinned) == release(torch_version)):
        return None
    torch_release = ".".join(map(str, release(torch_version)))
    if wanted is None:
        fix = f"install the torchvision release built for torch {torch_release}"
    else:
        local = re.search(r"\+(cu\d+|rocm[\d.]+|cpu)$", torch_version)
        index = f" --index-url {WHEELS}/{local[1]}" if local else ""
        fix = f"pip install torchvision=={wanted}{index} (the release built for torch {torch_release})"
    return f"torchvision {vision_version} does not match torch {torch_version}: {fix}"


def torchvision_for(torch_version: str) -> str | None:
    """The torchvision release built for a torch release (2.M.P: 0.(M+15).P, 2.0.P: 0.15.(P+1), 1.M.P: 0.(M+1).P)."""
    major, minor, patch = release(torch_version)
    if major == 2:
        return f"0.{minor + 15}.{patch + 1 if minor == 0 else patch}"
    if major == 1:
        return f"0.{minor + 1}.{patch}"
    return None


def torch_pin(requirements: list[str]) -> str | None:
    """The exact torch a torchvision wheel requires (`torch==2.5.1`), if it names one."""
    for line in requirements:
        if found := re.fullmatch(r"torch\s*\(?\s*==\s*([\w.+]+)\s*\)?", line.split(";")[0].strip()):
            return found[1]
    return None


def release(text: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a version string such as '2.5.1+cu121' (missing parts are 0)."""
    parts = [int(p) for p in re.findall(r"\d+", text.split("+")[0])[:3]]
    return (parts + [0, 0, 0])[:3]  # type: ignore[return-value]
