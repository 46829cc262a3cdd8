"""The ways to apply an edit behind one interface: the registry, the protocol, the CLI's choices, one report."""

from __future__ import annotations

import inspect
import json
import typing

import pytest
from click.testing import CliRunner
from conftest import random_image

from editsearch.core.errors import UsageError
from editsearch.transfer.methods.base import SHARED_SETTINGS, ApplyRequest, EditMethod, ExemplarChoice, ModelNeed
from editsearch.transfer.methods.registry import METHODS, all_options, get_method, names, refuse_foreign
from editsearch.transfer.methods.report import REPORT_KEYS, Applied, ApplyReport


def cli(*args):
    from editsearch.cli.main import cli as main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_registry_lists_exactly_the_three_methods():
    assert names() == ("editclip", "visii", "caption-direction")
    assert all(get_method(name).name == name for name in names())
    with pytest.raises(UsageError, match="editclip, visii, caption-direction"):
        get_method("pix2pix-zero")


def test_the_cli_offers_and_documents_the_registry_methods():
    from editsearch.cli.apply import apply

    params = {p.name: p for p in apply.params}
    assert tuple(params["method"].type.choices) == names() and params["method"].default == names()[0]
    shared = {"index_dir", "edit_id", "before", "after", "images", "out", "seed", "size", "model", "editclip"}
    shared |= {"method", "as_json", *SHARED_SETTINGS}
    assert set(params) - shared == set(all_options())  # every method option is one the CLI takes, and no more
    assert all(params[k].default is None for k in SHARED_SETTINGS)  # left out, each method's own default
    help_text = "".join(cli("apply", "--help").output.split())  # without click's line wrapping
    assert all("".join(m.summary.split()) in help_text for m in METHODS.values())
    assert "[default:50;caption-direction:100]" in help_text  # its paper's steps, beside the default method's 50


@pytest.mark.parametrize("name", names())
def test_each_method_satisfies_the_protocol(name):
    method = get_method(name)
    assert isinstance(method, EditMethod)
    assert method.summary and "\n" not in method.summary
    assert set(method.defaults) == set(SHARED_SETTINGS)
    assert method.models and all(isinstance(m, ModelNeed) and m.option.startswith("--") for m in method.models)
    assert list(inspect.signature(method.apply).parameters) == ["request"]
    hints = typing.get_type_hints(type(method).apply)
    assert hints["request"] is ApplyRequest and hints["return"] is ApplyReport  # one report type for all


def test_the_declared_defaults_are_the_implementations():
    from editsearch.transfer import caption_direction, caption_llm, pipeline, text_pipelines, visii

    editclip, visii_method, captions = (get_method(n) for n in names())
    assert editclip.defaults == {
        "steps": pipeline.DEFAULT_STEPS,
        "edit_guidance": pipeline.DEFAULT_EDIT_GUIDANCE,
        "image_guidance": pipeline.DEFAULT_IMAGE_GUIDANCE,
    }
    assert visii_method.defaults["edit_guidance"] == visii.VISII_GUIDANCE == 7.5
    assert visii_method.defaults["image_guidance"] == visii.VISII_IMAGE_GUIDANCE
    assert captions.defaults["steps"] == caption_direction.DEFAULT_STEPS == 100
    assert captions.defaults["edit_guidance"] == caption_direction.DEFAULT_GUIDANCE
    assert captions.options["direction_weight"] == caption_direction.DEFAULT_WEIGHT
    defaults = {m.option: m.default for method in METHODS.values() for m in method.models}
    assert defaults["--sd-model"] == text_pipelines.DEFAULT_SD
    assert defaults["--clip-model"] == text_pipelines.DEFAULT_CLIP
    assert defaults["--caption-llm"] == caption_llm.DEFAULT_CAPTION_LLM


def test_a_request_fills_what_was_not_given_from_the_method():
    visii = get_method("visii")
    request = ApplyRequest(["q.png"], steps=3, options={"text": "a cat", "lr": None})
    assert request.settings(visii.defaults) == {"steps": 3, "edit_guidance": 7.5, "image_guidance": 1.5}
    own = request.own(visii.options)
    assert own["text"] == "a cat" and own["lr"] is None and own["neighbours"] == 0 and set(own) == set(visii.options)
    assert not ExemplarChoice().given and ExemplarChoice(edit_id=3).given


def test_options_of_another_method_are_refused_naming_their_method():
    refuse_foreign(get_method("visii"), {"text": "a cat", "source_caption": None, "neighbours": 0})
    with pytest.raises(UsageError) as caught:
        refuse_foreign(get_method("editclip"), {"text": "a cat", "sd_model": "sd", "reuse_noise": False})
    message = str(caught.value)
    assert message.startswith("--text, --sd-model do not apply to editclip")
    assert "--text belong to --method visii" in message and "--sd-model belong to --method caption-direction" in message


def test_the_report_json_puts_the_shared_keys_first_and_then_the_details():
    from PIL import Image

    report = ApplyReport("visii", "m", {"steps": 2}, details={"reused": True}, failed=[("x.png", "not an image")])
    report.outputs.append(Applied(1, "q.png", Image.new("RGB", (8, 4)), 0.5))
    data = report.to_json(["unused", "out/q.png"])
    assert list(data) == [*REPORT_KEYS[:6], "reused", *REPORT_KEYS[6:]]
    assert data["outputs"] == [{"image": "q.png", "output": "out/q.png", "size": [8, 4], "ec2ec": 0.5}]
    assert data["failed"] == [{"image": "x.png", "reason": "not an image"}] and report.exit_code == 3


def test_every_method_json_has_the_same_top_level_keys(sd_dir, tmp_path, monkeypatch):
    """Each method on a tiny model (the shipped 64-px pipeline, a tiny SD): the report keys, then its details."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before, after, query = (tmp_path / f"{n}.png" for n in ("a", "b", "q"))
    for path, seed in ((before, 1), (after, 2), (query, 3)):
        random_image(seed, (32, 32)).save(path)
    pair = ["--before", before, "--after", after]
    runs = {
        "editclip": [*pair, "--steps", 1],
        "visii": [*pair, "--steps", 1, "--visii-steps", 1],
        "caption-direction": ["--sd-model", sd_dir, "--steps", 2, "--size", 32]
        + ["--source-caption", "a red square", "--target-caption", "a blue circle"],
    }
    keys = {}
    for method, args in runs.items():
        result = cli("apply", "--method", method, "--image", query, "--out", tmp_path / method, *args, "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["method"] == method and len(report["outputs"]) == 1 and report["failed"] == []
        assert "total_s" in report["timings"] and isinstance(report["demonstration"], bool)
        keys[method] = set(report)
    assert set.intersection(*keys.values()) == set(REPORT_KEYS)
    assert keys["editclip"] == set(REPORT_KEYS)  # the default method has no details of its own
