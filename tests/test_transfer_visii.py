"""VISII on a tiny random InstructPix2Pix of the stock layout: the prompt, the inversion, the edit, reuse, loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import random_image
from PIL import Image
from torch_fixtures import one_thread  # noqa: F401 - the fixture, used by pytestmark

from editsearch.core.errors import IncompatibleModelError, UsageError, WeightsNotFoundError
from editsearch.transfer.visii import InversionSettings, LearnedInstruction, Visii

FAST = {"steps": 2, "size": 32}


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models run several times faster on one thread


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A tiny IP2P pipeline folder (model_index.json, unet, vae, text_encoder, tokenizer, scheduler) and a CLIP."""
    from editsearch.transfer.tiny_pipelines import tiny_clip, tiny_ip2p

    pipe = tiny_ip2p(seed=0)
    root = tmp_path_factory.mktemp("visii")
    pipe.save_pretrained(root / "ip2p")
    tiny_clip(pipe.tokenizer).save_pretrained(root / "clip")
    return root / "ip2p", root / "clip"


@pytest.fixture(scope="module")
def visii(folders):
    return Visii.from_pretrained(folders[0], folders[1], device="cpu")


@pytest.fixture(scope="module")
def pair():
    before = random_image(1, (32, 32))
    return before, before.point(lambda v: 255 - v)


def test_prompt_layout_places_the_learned_tokens_and_the_hybrid_text(visii):
    prompts = visii.prompts
    tok = visii.pipe.tokenizer
    ids = prompts.ids(3, "a cat")[0].tolist()
    text = prompts.text_ids("a cat")
    assert ids[0] == tok.bos_token_id and ids[4 : 4 + len(text)] == text and ids[4 + len(text)] == tok.eos_token_id
    assert len(ids) == tok.model_max_length
    learned = torch.randn(3, prompts.width, requires_grad=True)
    plain = prompts.encode(learned)
    hybrid = prompts.encode(learned, "a cat")
    assert plain.shape == (1, tok.model_max_length, visii.pipe.text_encoder.config.hidden_size)
    assert not torch.allclose(plain, hybrid)  # the user's text reaches the condition
    other = prompts.encode(learned.detach() + 1)
    assert not torch.allclose(plain, other)  # the learned embeddings do
    plain.sum().backward()
    assert learned.grad is not None and learned.grad.abs().sum() > 0
    assert all(p.grad is None for p in visii.pipe.text_encoder.parameters())  # nothing else learns
    with pytest.raises(UsageError, match="exceeds"):
        prompts.ids(80)


def test_initial_tokens_come_from_the_text(visii):
    prompts = visii.prompts
    table = visii.pipe.text_encoder.get_input_embeddings().weight
    init = prompts.initial("make it red", 10)
    assert torch.equal(init, table[prompts.text_ids("make it red")].detach())
    assert prompts.initial(None, 4).shape == (4, prompts.width)


def test_clip_term_pulls_the_instruction_towards_the_edit_direction(visii, pair):
    """With the CLIP loss alone, cos(c_T, Delta) rises; only <ins> changes, the pipeline stays frozen."""
    frozen = {k: v.clone() for k, v in visii.pipe.text_encoder.state_dict().items()}
    delta = visii.direction([pair])
    settings = InversionSettings(steps=15, lr=0.05, lambda_mse=0.0, lambda_clip=1.0, tokens=4, size=32)
    start = visii.prompts.initial(None, 4)
    learned = visii.invert([pair], settings)
    cos = lambda e: float(visii.instruction_embedding(visii.prompts.encode(e)) @ delta)  # noqa: E731
    with torch.no_grad():
        assert cos(learned.embeddings) > cos(start) + 0.05
    assert learned.tokens == 4 and len(learned.history) == 15 and not learned.reused
    assert all(torch.equal(v, frozen[k]) for k, v in visii.pipe.text_encoder.state_dict().items())


def reconstruction_loss(visii, pair, embeddings, draws=8):
    """The mean ||eps - eps_hat||^2 of a pair over fixed (t, noise) draws, for given <ins> embeddings."""
    from editsearch.transfer.text_pipelines import image_latents

    vae, unet = visii.pipe.vae, visii.pipe.unet
    z_x = image_latents(vae, [pair[0]], (32, 32))
    z_y = image_latents(vae, [pair[1]], (32, 32)) * vae.config.scaling_factor
    generator, total = torch.Generator().manual_seed(99), 0.0
    with torch.no_grad():
        cond = visii.prompts.encode(embeddings)
        for _ in range(draws):
            noise, t = torch.randn(z_y.shape, generator=generator), torch.randint(0, 1000, (1,), generator=generator)
            eps = unet(torch.cat([visii._noised(z_y, noise, t), z_x], 1), t, encoder_hidden_states=cond).sample
            total += float(torch.nn.functional.mse_loss(eps, noise))
    return total / draws


def test_mse_term_fits_the_pair(visii, pair):
    """The reconstruction term alone lowers the pair's loss on held-fixed draws (a random UNet barely listens
    to its text, so the drop is small, but it is the sign of the gradient that is checked)."""
    settings = InversionSettings(steps=20, lr=0.2, lambda_clip=0.0, init_text="make it red", size=32)
    learned = visii.invert([pair], settings)
    start = visii.prompts.initial("make it red", 10)
    assert reconstruction_loss(visii, pair, learned.embeddings) < reconstruction_loss(visii, pair, start)


def test_n_pairs_use_the_mean_direction(visii, pair):
    second = (random_image(7, (32, 32)), random_image(8, (32, 32)))
    both = visii.direction([pair, second])
    d1, d2 = visii.direction([pair]), visii.direction([second])
    assert float(both.norm()) == pytest.approx(1.0, abs=1e-5)
    assert float(both @ d1) > 0 and float(both @ d2) > 0
    learned = visii.invert([pair, second], InversionSettings(steps=3, size=32))
    assert learned.pairs == 2


def test_apply_edits_with_hybrid_text_and_noise_reuse(visii, pair):
    instruction = LearnedInstruction(visii.prompts.initial("invert", 4), InversionSettings(size=32, seed=5))
    query = random_image(3, (48, 32))
    [plain] = visii.apply(instruction, [query], seed=5, **FAST)
    [hybrid] = visii.apply(instruction, [query], seed=5, text="a watercolor cat", **FAST)
    [reused] = visii.apply(instruction, [query], seed=0, reuse_noise=True, **FAST)
    [other_seed] = visii.apply(instruction, [query], seed=0, **FAST)
    assert plain.size[0] > plain.size[1]  # aspect kept at the working size
    assert plain.tobytes() != hybrid.tobytes()
    assert reused.tobytes() == plain.tobytes()  # the inversion's noise stream (seed 5), not the apply seed
    assert other_seed.tobytes() != plain.tobytes()
    with pytest.raises(UsageError):
        visii.apply(instruction, [query], steps=0)


def test_settings_are_checked():
    for bad in ({"steps": 0}, {"lr": float("nan")}, {"tokens": 0}, {"lambda_clip": -1.0}):
        with pytest.raises(UsageError):
            InversionSettings(**bad).check()
    assert InversionSettings().key() != InversionSettings(seed=1).key()
    assert InversionSettings().steps == 1000 and InversionSettings().lr == 1e-3  # the paper's defaults
    assert (InversionSettings().lambda_mse, InversionSettings().lambda_clip) == (4.0, 0.1)


def test_loading_refuses_missing_or_wrong_weights(folders, tmp_path, monkeypatch):
    ip2p, clip = folders
    with pytest.raises(WeightsNotFoundError, match="not a folder, not a hub id"):
        Visii.from_pretrained(tmp_path / "nowhere", clip, device="cpu")
    (tmp_path / "bare" / "unet").mkdir(parents=True)
    with pytest.raises(WeightsNotFoundError, match="text_encoder"):
        Visii.from_pretrained(tmp_path / "bare", clip, device="cpu")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(WeightsNotFoundError, match="`hf download "):
        Visii.from_pretrained("someone/not-here-ip2p", clip, device="cpu")
    with pytest.raises(WeightsNotFoundError, match="--clip-model"):
        Visii.from_pretrained(ip2p, "someone/not-here-clip", device="cpu")


def test_a_clip_of_another_width_is_refused(visii):
    from editsearch.transfer.tiny_pipelines import tiny_clip, tiny_tokenizer

    clip = tiny_clip(tiny_tokenizer())
    clip.config.text_config.hidden_size = 64
    with pytest.raises(IncompatibleModelError, match="--clip-model"):
        Visii(visii.pipe, clip)


def test_learned_instructions_are_kept_and_reused_per_edit(visii, tiny_model_dir, tmp_path, monkeypatch):
    """An indexed edit's instruction is stored in the catalog; the same settings reuse it, others learn anew."""
    from index_fixtures import make_collection

    from editsearch.index.store import EditIndex
    from editsearch.transfer.exemplar import exemplar_from_index
    from editsearch.transfer.visii_apply import learn

    idx = tmp_path / "idx"
    with EditIndex.open(idx, create=True) as index:
        from editsearch.encoder import load_model

        index.sync([make_collection(tmp_path / "data", 3)], load_model(tiny_model_dir, device="cpu"))
        edit_id = min(index.catalog.existing_ids(list(range(1, 50))))
    exemplar = exemplar_from_index(idx, edit_id)
    settings = InversionSettings(steps=2, size=32)
    first, _ = learn(visii, exemplar, settings, idx)
    assert not first.reused and first.settings.init_text == exemplar.instruction  # initialised from the edit's text
    calls = []
    monkeypatch.setattr(visii, "invert", lambda *a, **k: calls.append(a))
    again, _ = learn(visii, exemplar, settings, idx)
    assert again.reused and not calls and torch.equal(again.embeddings, first.embeddings)
    with EditIndex.open(idx) as index:
        assert index.catalog.db.execute("SELECT count(*) FROM visii_instructions").fetchone()[0] == 1
    with pytest.raises(UsageError, match="--edit-id"):
        learn(visii, exemplar.__class__(exemplar.before, exemplar.after, "a", "b"), settings, idx, neighbours=2)


def cli(*args):
    from click.testing import CliRunner

    from editsearch.cli.main import cli as main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_visii_from_files_and_from_an_index_with_reuse(folders, tiny_model_dir, tmp_path):
    """`apply --method visii`: files in, an output and JSON out; an indexed edit learns once, then reuses."""
    import json

    from index_fixtures import make_collection

    from editsearch.index.store import EditIndex

    ip2p, clip = folders
    before, after, query = (tmp_path / f"{n}.png" for n in ("a", "b", "q"))
    for path, seed in ((before, 1), (after, 2), (query, 3)):
        random_image(seed, (32, 32)).save(path)
    fast = ["--model", ip2p, "--clip-model", clip, "--visii-steps", 2, "--steps", 2, "--size", 32, "--json"]
    result = cli("apply", "--method", "visii", "--before", before, "--after", after, "--image", query,
                 "--out", tmp_path / "o.png", "--text", "a cat", "--editclip", tiny_model_dir, *fast)  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["method"] == "visii" and report["reused"] is False and report["pairs"] == 1
    assert report["settings"]["text"] == "a cat" and report["settings"]["guidance"] == 7.5  # the paper's
    assert report["settings"]["inversion"]["steps"] == 2 and report["settings"]["inversion"]["lambda_mse"] == 4.0
    assert isinstance(report["outputs"][0]["ec2ec"], float) and (tmp_path / "o.png").is_file()
    idx = tmp_path / "idx"
    assert cli("build-index", make_collection(tmp_path / "data", 3), "--index", idx, "--model", tiny_model_dir,
               "-q").exit_code == 0  # fmt: skip
    with EditIndex.open(idx) as index:
        edit_id = min(index.catalog.existing_ids(list(range(1, 50))))
    args = ["apply", "--method", "visii", "--index", idx, "--edit-id", edit_id, "--neighbours", 1, "--image", query]
    first = json.loads(cli(*args, "--out", tmp_path / "o1", *fast).stdout)
    second = json.loads(cli(*args, "--out", tmp_path / "o2", *fast).stdout)
    assert first["pairs"] == 2 and len(first["neighbours"]) == 1 and first["neighbours"][0] != edit_id
    assert not first["reused"] and second["reused"] and second["timings"]["invert_s"] == 0.0
    assert first["edit"]["id"] == edit_id and first["outputs"][0]["ec2ec"] is None  # no --editclip, no score
    assert Image.open(first["outputs"][0]["output"]).tobytes() == Image.open(second["outputs"][0]["output"]).tobytes()


def test_cli_options_stay_with_their_method(folders, tmp_path):
    query = tmp_path / "q.png"
    random_image(3, (32, 32)).save(query)
    wrong = cli("apply", "--method", "visii", "--before", query, "--after", query, "--image", query,
                "--out", tmp_path / "o.png", "--source-caption", "a cat")  # fmt: skip
    assert wrong.exit_code == 2 and "--source-caption do not apply to visii" in wrong.output
    default = cli("apply", "--before", query, "--after", query, "--image", query, "--out", tmp_path / "o.png",
                  "--text", "a cat")  # fmt: skip
    assert default.exit_code == 2 and "--text belong to --method visii" in default.output
    no_exemplar = cli("apply", "--method", "visii", "--image", query, "--out", tmp_path / "o.png")
    assert no_exemplar.exit_code == 2 and "--edit-id" in no_exemplar.output
    models = ["--model", folders[0], "--clip-model", folders[1]]
    neighbours = cli("apply", "--method", "visii", "--before", query, "--after", query, "--image", query,
                     "--out", tmp_path / "o.png", "--neighbours", 2, *models)  # fmt: skip
    assert neighbours.exit_code == 2 and "--neighbours needs an indexed edit" in neighbours.output


def test_the_cli_imports_no_method_until_one_runs():
    """`query` and the default `apply` load nothing new: the CLI imports no transfer module at start."""
    import subprocess
    import sys

    code = (
        "import sys, editsearch.cli.main\n"
        "loaded = [m for m in sys.modules if m.startswith('editsearch.transfer') or m in ('torch', 'diffusers')]\n"
        "assert not loaded, loaded"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0


@pytest.fixture
def indexed(tiny_model_dir, tmp_path):
    """An index of 3 tiny edits: (its folder, the manifest, an edit id, the tiny EditCLIP)."""
    from index_fixtures import make_collection

    from editsearch.encoder import load_model
    from editsearch.index.store import EditIndex

    manifest, model = make_collection(tmp_path / "data", 3), load_model(tiny_model_dir, device="cpu")
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        index.sync([manifest], model)
        edit_id = min(index.catalog.existing_ids(list(range(1, 50))))
    return tmp_path / "idx", manifest, edit_id, model


def stored_count(idx) -> int:
    from editsearch.index.store import EditIndex

    with EditIndex.open(idx) as index:
        return index.catalog.db.execute("SELECT count(*) FROM visii_instructions").fetchone()[0]


def test_an_edit_whose_images_changed_learns_anew(visii, indexed):
    """build-index reports the changed pair as updated; its stored instruction, learned from the old pixels,
    is not reused: a new one is learned (and that one is reused next time)."""
    from editsearch.index.store import EditIndex
    from editsearch.transfer.exemplar import exemplar_from_index
    from editsearch.transfer.visii_apply import learn

    idx, manifest, edit_id, model = indexed
    settings = InversionSettings(steps=2, size=32)
    first, _ = learn(visii, exemplar_from_index(idx, edit_id), settings, idx)
    with EditIndex.open(idx) as index:
        after = Path(index.get_edit(edit_id)["after"])
    random_image(77, Image.open(after).size).save(after)  # the pair's after image is edited in place
    with EditIndex.open(idx, writable=True) as index:
        assert "updated 1" in index.sync([manifest], model).summary()
    changed, _ = learn(visii, exemplar_from_index(idx, edit_id), settings, idx)
    assert not first.reused and not changed.reused
    again, _ = learn(visii, exemplar_from_index(idx, edit_id), settings, idx)
    assert again.reused and torch.equal(again.embeddings, changed.embeddings)


def test_changed_pipeline_weights_learn_anew(visii, indexed):
    """The same pipeline name (a folder rewritten in place) with other weights does not reuse the instruction."""
    import copy

    from editsearch.transfer.exemplar import exemplar_from_index
    from editsearch.transfer.visii_apply import learn

    idx, _, edit_id, _ = indexed
    exemplar, settings = exemplar_from_index(idx, edit_id), InversionSettings(steps=2, size=32)
    assert not learn(visii, exemplar, settings, idx)[0].reused
    assert learn(Visii(visii.pipe, visii.clip, visii.name, visii.clip_name), exemplar, settings, idx)[0].reused
    pipe = copy.deepcopy(visii.pipe)
    with torch.no_grad():
        pipe.unet.conv_in.bias.add_(0.01)
    retrained = Visii(pipe, visii.clip, visii.name, visii.clip_name)
    assert retrained.fingerprint != visii.fingerprint
    assert not learn(retrained, exemplar, settings, idx)[0].reused
    assert stored_count(idx) == 2


def test_a_diverging_inversion_stops_and_nothing_is_kept(visii, indexed, pair):
    """A loss that overflows (lambda_mse 1e300) stops the run with an EditSearchError; no NaN is ever stored."""
    import numpy as np

    from editsearch.core.errors import DataError, EditSearchError
    from editsearch.index.store import EditIndex
    from editsearch.transfer.exemplar import exemplar_from_index
    from editsearch.transfer.store import save_visii_instruction
    from editsearch.transfer.visii import InversionDivergedError
    from editsearch.transfer.visii_apply import keep_instruction, learn

    idx, _, edit_id, _ = indexed
    huge = InversionSettings(steps=3, size=32, lambda_mse=1e300)
    with pytest.raises(InversionDivergedError, match="diverged: the loss is inf at step 1 .*--lambda-mse"):
        visii.invert([pair], huge)
    assert issubclass(InversionDivergedError, EditSearchError)
    with pytest.raises(InversionDivergedError):
        learn(visii, exemplar_from_index(idx, edit_id), huge, idx)
    nan = LearnedInstruction(torch.full((2, visii.prompts.width), float("nan")), huge, loss=1.0)
    with pytest.raises(InversionDivergedError, match="not finite"):
        keep_instruction(idx, edit_id, visii.name, "k", nan)
    blob = np.full((2, 4), np.nan, dtype=np.float32).tobytes()
    with EditIndex.open(idx, writable=True) as index, pytest.raises(DataError, match="not finite"):
        save_visii_instruction(index, edit_id, visii.name, "k", (2, 4), blob, loss=1.0)
    assert stored_count(idx) == 0


def test_cli_a_diverging_visii_is_an_error_and_writes_nothing(folders, tmp_path):
    ip2p, clip = folders
    before, after, query = (tmp_path / f"{n}.png" for n in ("a", "b", "q"))
    for path, seed in ((before, 1), (after, 2), (query, 3)):
        random_image(seed, (32, 32)).save(path)
    result = cli("apply", "--method", "visii", "--before", before, "--after", after, "--image", query,
                 "--out", tmp_path / "o.png", "--model", ip2p, "--clip-model", clip, "--visii-steps", 2,
                 "--steps", 2, "--size", 32, "--lambda-mse", "1e300")  # fmt: skip
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Error: VISII diverged" in result.output and not (tmp_path / "o.png").exists()


def test_cli_refuses_pipeline_folders_of_the_wrong_kind_or_with_custom_code(folders, sd_dir, tmp_path):
    """A folder that is no InstructPix2Pix, or names code of its own, is a one-line error: what it is, what is
    needed; no traceback, no custom code run."""
    from test_transfer_caption_direction import variant

    from editsearch.encoder.registry import MODELS

    ip2p, clip = folders
    (tmp_path / "empty").mkdir()
    custom = variant(ip2p, tmp_path / "custom", "model_index.json", lambda d: d.update(unet=["my_unet", "MyUNet"]))
    auto_map = variant(ip2p, tmp_path / "auto", "text_encoder/config.json",
                       lambda d: d.update(auto_map={"AutoModel": "modeling_mine.Mine"}))  # fmt: skip
    query = tmp_path / "q.png"
    random_image(3, (32, 32)).save(query)
    base = ["apply", "--method", "visii", "--before", query, "--after", query, "--image", query, "--out",
            tmp_path / "o.png", "--visii-steps", 1, "--steps", 1, "--size", 32, "--clip-model", clip]  # fmt: skip
    needs = "needs a text-conditioned InstructPix2Pix pipeline (StableDiffusionInstructPix2PixPipeline"
    cases = {
        MODELS["editclip-mini"].location: ("is an EditCLIP model folder", needs),
        tmp_path / "empty": ("is an empty folder", needs),
        sd_dir: ("is a diffusers pipeline folder (StableDiffusionPipeline)", needs),
        custom: ("names my_unet.MyUNet for unet, not a stock class", "never runs a model folder's own code"),
        auto_map: ("maps its classes to code in the folder (auto_map)", "never runs a model folder's own code"),
        clip: ("is a transformers clip model folder", needs),
    }
    for folder, says in cases.items():
        result = cli(*base, "--model", folder)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (folder, result.output)
        assert all(s in result.output for s in says) and "Traceback" not in result.output, result.output
    wrong_clip = cli(*base[:-1], ip2p, "--model", ip2p)
    assert (
        wrong_clip.exit_code == 1 and "--clip-model" in wrong_clip.output and "diffusers pipeline" in wrong_clip.output
    )
