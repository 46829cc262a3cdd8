"""Caption-direction editing on a tiny random Stable Diffusion of the stock layout: inversion, direction, loading.

Reconstruction is checked in latent space: the random VAE's decoder is far from invertible, so pixels would
measure the VAE, not the inversion.
"""

from __future__ import annotations

import pytest
import torch
from conftest import random_image
from torch_fixtures import one_thread  # noqa: F401 - the fixture, used by pytestmark

from editsearch.core.errors import UsageError, WeightsNotFoundError
from editsearch.transfer.caption_direction import CaptionDirection

SOURCE, TARGET = "a red square", "a blue circle"


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models run several times faster on one thread


@pytest.fixture(scope="module")
def editor(sd_dir):
    return CaptionDirection.from_pretrained(sd_dir, device="cpu")


@pytest.fixture(scope="module")
def latents(editor):
    return editor.encode(random_image(2, (32, 32)), 32)


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().mean() / b.abs().mean())


def test_zero_direction_reconstructs_the_image_after_inversion(editor, latents):
    """DDIM inversion then unguided regeneration under the same condition gives the latents back (within 10 %),
    and the inverted noise is far from them (the round trip is not trivial)."""
    inversion, edit = editor.condition(SOURCE, TARGET, 0.0)
    assert torch.equal(inversion, edit)
    noise = editor.invert(latents, inversion, 12)
    back = editor.regenerate(noise, edit, 12, 1.0)
    assert relative(noise, latents) > 0.5
    assert relative(back, latents) < 0.1


def test_a_direction_moves_the_output_and_scales_with_its_weight(editor, latents):
    inversion, _ = editor.condition(SOURCE, TARGET, 0.0)
    noise = editor.invert(latents, inversion, 8)
    outputs = {w: editor.regenerate(noise, editor.condition(SOURCE, TARGET, w)[1], 8, 1.0) for w in (0.0, 0.5, 1.5)}
    assert relative(outputs[0.5], outputs[0.0]) > 0.002
    assert relative(outputs[1.5], outputs[0.0]) > relative(outputs[0.5], outputs[0.0])
    src, tgt = editor.embed(SOURCE), editor.embed(TARGET)
    assert torch.allclose(editor.condition(SOURCE, TARGET, 0.75)[1], src + 0.75 * (tgt - src))


def test_edit_returns_an_image_and_guidance_changes_it(editor):
    image = random_image(4, (48, 32))
    plain = editor.edit(image, SOURCE, TARGET, steps=3, guidance=1.0, size=32)
    guided = editor.edit(image, SOURCE, TARGET, steps=3, guidance=5.0, size=32)
    assert plain.size[0] > plain.size[1]
    assert plain.tobytes() != guided.tobytes()
    assert editor.edit(image, SOURCE, TARGET, steps=3, guidance=1.0, size=32).tobytes() == plain.tobytes()


def test_missing_captions_and_bad_settings_say_what_to_pass(editor):
    with pytest.raises(UsageError, match="--source-caption .* --target-caption"):
        editor.condition("", TARGET, 1.0)
    with pytest.raises(UsageError, match="weight"):
        editor.condition(SOURCE, TARGET, float("inf"))
    with pytest.raises(UsageError, match="steps"):
        editor.edit(random_image(1), SOURCE, TARGET, steps=0)


def test_loading_refuses_missing_weights(tmp_path, monkeypatch):
    with pytest.raises(WeightsNotFoundError, match="not a folder"):
        CaptionDirection.from_pretrained(tmp_path / "nowhere", device="cpu")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(WeightsNotFoundError, match="--sd-model DIR"):
        CaptionDirection.from_pretrained("someone/not-here-sd", device="cpu")


def cli(*args):
    from click.testing import CliRunner

    from editsearch.cli.main import cli as main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_caption_direction_end_to_end(sd_dir, tmp_path):
    import json

    from PIL import Image

    query, broken = tmp_path / "q.png", tmp_path / "broken.png"
    random_image(5, (48, 32)).save(query)
    broken.write_bytes(b"not an image")
    args = ["apply", "--method", "caption-direction", "--image", query, "--image", broken, "--out", tmp_path / "out"]
    fast = ["--sd-model", sd_dir, "--steps", 3, "--size", 32, "--direction-weight", 0.75]
    result = cli(*args, "--source-caption", SOURCE, "--target-caption", TARGET, *fast, "--json")
    assert result.exit_code == 3, result.output  # one image edited, the unreadable one reported
    report = json.loads(result.stdout)
    assert report["method"] == "caption-direction" and report["target_caption"] == TARGET
    assert report["settings"]["weight"] == 0.75 and report["settings"]["steps"] == 3
    assert [f["image"] for f in report["failed"]] == [str(broken)]
    assert Image.open(report["outputs"][0]["output"]).size == tuple(report["outputs"][0]["size"])
    plain = cli("apply", "--method", "caption-direction", "--image", query, "--out", tmp_path / "p.png",
                "--source-caption", SOURCE, "--target-caption", TARGET, *fast)  # fmt: skip
    assert plain.exit_code == 0 and plain.stdout.strip() == str(tmp_path / "p.png")


def test_cli_caption_direction_says_what_it_needs(tmp_path):
    query = tmp_path / "q.png"
    random_image(5, (32, 32)).save(query)
    base = ["apply", "--method", "caption-direction", "--image", query, "--out", tmp_path / "o.png"]
    missing = cli(*base, "--source-caption", SOURCE)
    assert missing.exit_code == 2 and "--target-caption" in missing.output and "BLIP" in missing.output
    exemplar = cli(*base, "--edit-id", 3, "--source-caption", SOURCE, "--target-caption", TARGET)
    assert exemplar.exit_code == 2 and "takes no exemplar" in exemplar.output
    offline = cli(*base, "--source-caption", SOURCE, "--target-caption", TARGET, "--sd-model", tmp_path / "none")
    assert offline.exit_code == 1 and "not a folder" in offline.output
    wrong = cli(*base, "--source-caption", SOURCE, "--target-caption", TARGET, "--neighbours", 2)
    assert wrong.exit_code == 2 and "do not apply to caption-direction" in wrong.output


def test_cli_captions_each_image_with_blip_when_no_source_caption(sd_dir, tmp_path):
    import json

    from editsearch.transfer.tiny_pipelines import save_tiny_blip

    blip = save_tiny_blip(tmp_path / "blip")
    query = tmp_path / "q.png"
    random_image(5, (32, 32)).save(query)
    base = ["apply", "--method", "caption-direction", "--image", query, "--out", tmp_path / "o.png"]
    fast = ["--sd-model", sd_dir, "--steps", 2, "--size", 32, "--target-caption", TARGET]
    result = cli(*base, *fast, "--caption-model", blip, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["source_caption"] is None and report["captioner"] == str(blip)
    [caption] = report["source_captions"]
    assert caption and set(caption.split()) <= {"a", "photo", "of", "cat", "dog", "red", "blue", "on", "sofa"}
    missing = cli(*base, *fast)
    assert missing.exit_code == 2 and "--caption-model" in missing.output
    absent = cli(*base, *fast, "--caption-model", tmp_path / "no-blip")
    assert absent.exit_code == 1 and "not a folder" in absent.output


def variant(source, target, json_file, change):
    """A copy of a model folder with one of its JSON files changed by `change(data)`."""
    import json
    import shutil

    shutil.copytree(source, target)
    data = json.loads((target / json_file).read_text())
    change(data)
    (target / json_file).write_text(json.dumps(data))
    return target


def test_cli_refuses_folders_of_the_wrong_kind_or_with_custom_code(sd_dir, tmp_path):
    """A folder that is no Stable Diffusion, or whose JSON names code of its own, is a one-line error saying what
    the folder is and what is needed: no traceback, nothing loaded, no custom code run."""
    from editsearch.encoder.registry import MODELS
    from editsearch.transfer.tiny_pipelines import save_tiny_blip, save_tiny_llm, tiny_ip2p

    tiny_ip2p().save_pretrained(tmp_path / "ip2p")
    (tmp_path / "empty").mkdir()
    custom_unet = variant(sd_dir, tmp_path / "custom", "model_index.json", lambda d: d.update(unet=["my_unet", "U"]))
    auto_map = variant(sd_dir, tmp_path / "auto", "text_encoder/config.json",
                       lambda d: d.update(auto_map={"AutoModel": "modeling_mine.Mine"}))  # fmt: skip
    query = tmp_path / "q.png"
    random_image(5, (32, 32)).save(query)
    base = ["apply", "--method", "caption-direction", "--image", query, "--out", tmp_path / "o.png", "--steps", 1]
    captions = ["--source-caption", SOURCE, "--target-caption", TARGET]
    cases = {
        MODELS["editclip-mini"].location: "is an EditCLIP model folder",
        tmp_path / "empty": "is an empty folder",
        tmp_path / "ip2p": "is a diffusers pipeline folder (StableDiffusionInstructPix2PixPipeline)",
        custom_unet: "names my_unet.U for unet, not a stock class",
        auto_map: "maps its classes to code in the folder (auto_map)",
    }
    for folder, says in cases.items():
        result = cli(*base, *captions, "--sd-model", folder)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (folder, result.output)
        assert says in result.output and "Traceback" not in result.output
        if "code" not in says:
            assert "needs a text-to-image Stable Diffusion pipeline (StableDiffusionPipeline" in result.output
    blip0 = save_tiny_blip(tmp_path / "blip0")
    blip = variant(blip0, tmp_path / "blip", "config.json",
                   lambda d: d.update(auto_map={"AutoModel": "modeling_mine.Mine"}))  # fmt: skip
    captioner = cli(*base, "--target-caption", TARGET, "--caption-model", blip, "--sd-model", sd_dir)
    assert captioner.exit_code == 1 and "auto_map" in captioner.output and "Traceback" not in captioner.output
    not_blip = cli(*base, "--target-caption", TARGET, "--caption-model", sd_dir / "text_encoder", "--sd-model", sd_dir)
    assert not_blip.exit_code == 1 and "clip_text_model" in not_blip.output and "BLIP" in not_blip.output
    llm = variant(save_tiny_llm(tmp_path / "llm0"), tmp_path / "llm", "config.json",
                  lambda d: d.update(auto_map={"AutoModelForCausalLM": "modeling_mine.Mine"}))  # fmt: skip
    writer = cli(*base, "--source-caption", SOURCE, "--instruction", "make it blue", "--caption-llm", llm,
                 "--sd-model", sd_dir)  # fmt: skip
    assert writer.exit_code == 1 and "auto_map" in writer.output and "Traceback" not in writer.output
    not_llm = cli(*base, "--source-caption", SOURCE, "--instruction", "make it blue", "--caption-llm", blip0,
                  "--sd-model", sd_dir)  # fmt: skip
    assert not_llm.exit_code == 1 and "causal LM" in not_llm.output and "Traceback" not in not_llm.output


def test_cli_names_every_missing_model_at_once(sd_dir, tmp_path, monkeypatch):
    """Offline without weights, one error lists each model caption-direction needs (SD, BLIP, LLM) and its how-to."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    query = tmp_path / "q.png"
    random_image(5, (32, 32)).save(query)
    base = ["apply", "--method", "caption-direction", "--image", query, "--out", tmp_path / "o.png"]
    wanted = ["--caption-model", "someone/blip", "--instruction", "make it snowy"]
    result = cli(*base, *wanted)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith("Error: --method caption-direction cannot use 3 of the models it needs: (1) ")
    for name, option in [("CompVis/stable-diffusion-v1-4", "--sd-model"), ("someone/blip", "--caption-model"),
                         ("Qwen/Qwen2.5-0.5B-Instruct", "--caption-llm")]:  # fmt: skip
        assert f"`hf download {name} --local-dir DIR" in line and f"pass {option} DIR" in line
    present = cli(*base, *wanted, "--sd-model", sd_dir)  # the SD is here: the other two are named
    assert "cannot use 2 of the models it needs" in present.output and "stable-diffusion" not in present.output
