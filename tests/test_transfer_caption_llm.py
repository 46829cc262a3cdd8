"""The LLM step of caption-direction editing on a tiny random Qwen2 chat model: prompt, answer, CLI, errors."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import random_image
from torch_fixtures import one_thread  # noqa: F401 - the fixture, used by pytestmark

from editsearch.core.errors import GenerationError, UsageError, WeightsNotFoundError
from editsearch.transfer.caption_llm import EXAMPLE, CaptionWriter, first_caption
from editsearch.transfer.tiny_pipelines import LLM_WORDS, save_tiny_llm

SOURCE, INSTRUCTION = "a photo of a cat on a sofa", "make it snowy"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    return save_tiny_llm(tmp_path_factory.mktemp("llm") / "llm", seed=3)


@pytest.fixture(scope="module")
def silent_llm_dir(tmp_path_factory):
    """A tiny LLM whose answer is empty: a zero final norm makes every logit 0, so id 0 (<|endoftext|>) wins."""
    from transformers import AutoModelForCausalLM

    folder = save_tiny_llm(tmp_path_factory.mktemp("silent") / "llm", seed=3)
    model = AutoModelForCausalLM.from_pretrained(folder)
    with torch.no_grad():
        model.model.norm.weight.zero_()
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def writer(llm_dir):
    return CaptionWriter.from_pretrained(str(llm_dir), device="cpu")


def test_first_caption_keeps_the_first_line_without_label_or_quotes():
    assert first_caption('\n  New caption: "a snowy street"\nExplanation: ...') == "a snowy street"
    assert first_caption("Caption:   a  dog\ton a sofa") == "a dog on a sofa"
    assert first_caption("a caption: two words") == "a caption: two words"
    assert first_caption(" \n\"''\"\n") == ""


def test_the_prompt_uses_the_chat_template_and_a_worked_example(writer, tmp_path):
    text = writer.tokenizer.decode(writer.prompt_ids(SOURCE, INSTRUCTION)[0])
    assert text.startswith("<|im_start|>user\n") and text.endswith("<|im_start|>assistant\n")
    assert f"<|im_start|>assistant\n{EXAMPLE[2]}<|im_end|>" in text
    assert text.rindex(SOURCE) > text.index(EXAMPLE[0]) and INSTRUCTION in text
    plain = CaptionWriter.from_pretrained(str(save_tiny_llm(tmp_path / "plain", chat_template=False)), device="cpu")
    prompt = plain.tokenizer.decode(plain.prompt_ids(SOURCE, INSTRUCTION)[0])
    assert "<|im_start|>" not in prompt and prompt.endswith(f"Caption: {SOURCE}\nEdit: {INSTRUCTION}\nNew caption:")


def test_the_writer_answers_greedily_with_one_line_of_words(writer):
    caption = writer(SOURCE, INSTRUCTION)
    assert caption and "\n" not in caption and set(caption.split()) <= set(LLM_WORDS)
    assert writer(SOURCE, INSTRUCTION) == caption
    assert len(writer(SOURCE, INSTRUCTION, max_tokens=2).split()) <= 2
    with pytest.raises(UsageError, match="--instruction"):
        writer(SOURCE, "  ")


def test_an_empty_answer_is_an_error_naming_what_to_pass(silent_llm_dir):
    silent = CaptionWriter.from_pretrained(str(silent_llm_dir), device="cpu")
    with pytest.raises(GenerationError, match="wrote no target caption .*--target-caption"):
        silent(SOURCE, INSTRUCTION)


def test_missing_llm_weights_say_what_to_download_and_what_avoids_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(WeightsNotFoundError) as default:
        CaptionWriter.from_pretrained(None, device="cpu")
    message = str(default.value)
    assert "`hf download Qwen/Qwen2.5-0.5B-Instruct --local-dir DIR --include" in message
    assert "--caption-llm DIR" in message and "--target-caption" in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsNotFoundError, match="no config.json.*--target-caption"):
        CaptionWriter.from_pretrained(str(tmp_path / "empty"), device="cpu")


def test_apply_captions_writes_the_target_once_and_reports_it(sd_dir, writer):
    from editsearch.transfer.caption_direction import CaptionDirection, apply_captions

    editor = CaptionDirection.from_pretrained(sd_dir, device="cpu")
    images = [random_image(1, (32, 32)), random_image(2, (32, 32))]
    fast = {"steps": 2, "size": 32}
    report = apply_captions(editor, images, SOURCE, writer=writer, instruction=INSTRUCTION, **fast)
    written = writer(SOURCE, INSTRUCTION)
    assert report.details["target_caption"] == written and report.details["target_captions"] == [written] * 2
    assert report.details["instruction"] == INSTRUCTION and len(report.outputs) == 2
    with pytest.raises(UsageError, match="not both"):
        apply_captions(editor, images, SOURCE, "a snowy cat", writer=writer, instruction=INSTRUCTION, **fast)
    with pytest.raises(UsageError, match="--caption-llm"):
        apply_captions(editor, images, SOURCE, instruction=INSTRUCTION, **fast)


def cli(*args):
    from click.testing import CliRunner

    from editsearch.cli.main import cli as main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_blip_and_llm_write_both_captions_end_to_end(sd_dir, llm_dir, writer, tmp_path):
    from PIL import Image

    from editsearch.transfer.tiny_pipelines import save_tiny_blip

    blip = save_tiny_blip(tmp_path / "blip")
    query = tmp_path / "q.png"
    random_image(5, (32, 32)).save(query)
    base = ["apply", "--method", "caption-direction", "--image", query, "--caption-model", blip]
    fast = ["--sd-model", sd_dir, "--steps", 2, "--size", 32, "--instruction", INSTRUCTION, "--caption-llm", llm_dir]
    result = cli(*base, *fast, "--out", tmp_path / "o.png", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    [source], [target] = report["source_captions"], report["target_captions"]
    assert target == writer(source, INSTRUCTION) and set(target.split()) <= set(LLM_WORDS)
    assert report["instruction"] == INSTRUCTION and report["caption_llm"] == str(llm_dir)
    assert Image.open(report["outputs"][0]["output"]).size == (32, 32)
    plain = cli(*base, *fast, "--out", tmp_path / "p.png")
    assert plain.exit_code == 0 and plain.stdout.strip() == str(tmp_path / "p.png")
    assert f"captions {source!r} -> {target!r}" in plain.stderr


def test_cli_refuses_two_targets_and_an_llm_without_instruction(tmp_path):
    query = tmp_path / "q.png"
    random_image(5, (32, 32)).save(query)
    base = ["apply", "--method", "caption-direction", "--image", query, "--out", tmp_path / "o.png"]
    both = cli(*base, "--source-caption", SOURCE, "--target-caption", "a snowy cat", "--instruction", INSTRUCTION)
    assert both.exit_code == 2 and "not both" in both.output
    lone = cli(*base, "--source-caption", SOURCE, "--target-caption", "a snowy cat", "--caption-llm", tmp_path)
    assert lone.exit_code == 2 and "pass --instruction too" in lone.output
    visii = cli("apply", "--image", query, "--out", tmp_path / "o.png", "--before", query, "--after", query,
                "--instruction", INSTRUCTION)  # fmt: skip
    assert visii.exit_code == 2 and "--instruction" in visii.output
    empty = cli(*base, "--source-caption", SOURCE, "--instruction", " ")
    assert empty.exit_code == 2 and "--instruction is empty" in empty.output
    blank = cli(*base, "--source-caption", "", "--instruction", INSTRUCTION)
    assert blank.exit_code == 2 and "need two captions" in blank.output
    assert not (tmp_path / "o.png").exists()


def test_cli_missing_or_silent_llm_fails_with_what_to_do(sd_dir, silent_llm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    query = tmp_path / "q.png"
    random_image(5, (32, 32)).save(query)
    base = ["apply", "--method", "caption-direction", "--image", query, "--out", tmp_path / "o.png"]
    base += ["--sd-model", sd_dir, "--steps", 2, "--size", 32, "--source-caption", SOURCE, "--instruction", INSTRUCTION]
    absent = cli(*base)
    assert absent.exit_code == 1 and "Traceback" not in absent.output
    assert "Qwen/Qwen2.5-0.5B-Instruct" in absent.output and "--target-caption" in absent.output
    silent = cli(*base, "--caption-llm", silent_llm_dir)
    assert silent.exit_code == 1 and "wrote no target caption" in silent.output
    assert not (tmp_path / "o.png").exists()
