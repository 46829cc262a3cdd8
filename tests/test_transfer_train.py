"""IP2P fine-tuning: the loss on a fixed batch goes down, dropout, VAE training, resumable accelerate runs."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import random_image

from editsearch.training.pairs import to_signed_tensor


def _parts(editclip):
    from diffusers import DDPMScheduler

    from editsearch.training.train_ip2p import IP2PParts
    from editsearch.transfer import EditProjector
    from editsearch.transfer.architectures import build_unet, build_vae
    from editsearch.transfer.pipeline import SD_BETAS

    torch.manual_seed(0)
    vae = build_vae("test").requires_grad_(False)
    return IP2PParts(
        build_unet("test"), vae, EditProjector(editclip.vision_width, 32), editclip, DDPMScheduler(**SD_BETAS), None
    )


def _batch(editclip, n: int = 2, size: int = 16) -> dict[str, torch.Tensor]:
    befores = [random_image(10 + i, (size, size)) for i in range(n)]
    afters = [random_image(20 + i, (size, size)) for i in range(n)]
    return {
        "before": torch.stack([to_signed_tensor(b) for b in befores]),
        "after": torch.stack([to_signed_tensor(a) for a in afters]),
        "pair": torch.stack([editclip.pair_transform(b, a) for b, a in zip(befores, afters, strict=True)]),
    }


def _fit(parts, batch, lpips_model=None, steps: int = 4) -> list[float]:
    from editsearch.training.ip2p_features import frozen_features
    from editsearch.training.train_ip2p import ip2p_loss

    features = frozen_features(parts.vae, parts.editclip, batch)
    params = [*parts.unet.parameters(), *parts.projector.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    losses = []
    for _ in range(steps):  # same noise, timesteps and batch every step: the loss must go down
        out = ip2p_loss(parts, features, lpips_model, 0.05, dropout=0.0, generator=torch.Generator().manual_seed(0))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    return losses


def test_loss_decreases_on_a_fixed_batch_and_only_unet_and_projector_learn(tiny_model):
    parts = _parts(tiny_model)
    losses = _fit(parts, _batch(tiny_model))
    assert losses[-1] < 0.8 * losses[0], losses
    assert parts.projector.proj.weight.grad is not None and parts.unet.conv_in.weight.grad is not None
    assert all(p.grad is None for p in parts.vae.parameters())
    assert all(p.grad is None for p in tiny_model.parameters())


def test_loss_with_lpips_term_decreases(tiny_model):
    from editsearch.training.train_ip2p import load_lpips

    parts = _parts(tiny_model)
    losses = _fit(parts, _batch(tiny_model, size=32), load_lpips("squeeze", pretrained=False))
    assert losses[-1] < 0.8 * losses[0], losses


def test_conditioning_dropout_follows_the_ip2p_recipe(tiny_model, monkeypatch):
    from editsearch.training import train_ip2p as t

    draw = t._draw
    p = torch.tensor([0.01, 0.07, 0.12, 0.5])  # with d = 0.05: p < 2d drops the edit, d <= p < 3d the image
    monkeypatch.setattr(t, "_draw", lambda kind, *a, **k: p if kind == "rand" else draw(kind, *a, **k))
    parts = _parts(tiny_model)
    seen = []
    parts.unet.register_forward_pre_hook(lambda m, args: seen.append((args[0], args[2])))
    t.ip2p_loss(parts, t.frozen_features(parts.vae, tiny_model, _batch(tiny_model, n=4)), None, 0.0, dropout=0.05)
    sample, cond = seen[0]
    assert cond.abs().sum(dim=(1, 2)).gt(0).tolist() == [False, False, True, True]
    assert sample[:, 4:].abs().sum(dim=(1, 2, 3)).gt(0).tolist() == [True, False, False, True]


def test_vae_training_lowers_reconstruction_error():
    from editsearch.training.pairs import PairSampler, StepBatches
    from editsearch.training.train_vae import vae_loss
    from editsearch.transfer.architectures import build_vae

    vae = build_vae("test")
    batch = StepBatches(PairSampler(size=16, seed=0), 4, 1)[0]
    images = torch.cat([batch["before"], batch["after"]])
    assert images.shape == (8, 3, 16, 16) and images.min() >= -1 and images.max() <= 1
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    mses = []
    for _ in range(5):
        torch.manual_seed(0)
        out = vae_loss(vae, images, 1e-6)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        mses.append(out["mse"].item())
    assert mses[-1] < 0.7 * mses[0], mses


def test_unreadable_source_pairs_are_skipped_then_stop_with_a_data_error(tmp_path):
    from editsearch.core.errors import DataError
    from editsearch.training.pairs import MAX_SKIPS, PairSampler, pair_pool

    random_image(1).save(tmp_path / "b.png")
    random_image(2).save(tmp_path / "a.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    rows = [{"before": "b.png", "after": "a.png", "instruction": "do it"}]
    rows += [{"before": "bad.png", "after": "a.png", "instruction": "broken"}] * 2
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pool = pair_pool([str(tmp_path / "m.jsonl")], 0, 0, 16, workers=0)
    assert pool.instructions == ["do it"] and pool.pixels.shape == (1, 6, 16, 16)
    sampler = PairSampler([str(tmp_path / "m.jsonl")], 16, 0, shuffle=False)
    assert sampler(0)[0].size == (16, 16) and sampler(1)[0].size == (16, 16)  # pair 1 gives way to pair 3 (= 0)
    (tmp_path / "m.jsonl").write_text(json.dumps(rows[1]) + "\n")
    with pytest.raises(DataError, match=f"{MAX_SKIPS} unreadable pairs in a row.*check that"):
        PairSampler([str(tmp_path / "m.jsonl")], 16, 0)(0)
    with pytest.raises(DataError, match="no usable training pairs"):
        pair_pool([str(tmp_path / "m.jsonl")], 0, 0, 16, workers=0)


def test_train_cli_options_come_from_the_config(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from editsearch.cli.main import cli
    from editsearch.training import train_ip2p as t
    from editsearch.training.recipes import IP2PTrainConfig

    seen = []
    monkeypatch.setattr(t, "train_ip2p", lambda config, log=None: seen.append(config) or {})
    runner = CliRunner()
    assert runner.invoke(cli, ["train", "ip2p", "--out", str(tmp_path)]).exit_code == 0
    assert seen[-1] == IP2PTrainConfig(out=str(tmp_path))
    args = ["--init", "my/ip2p", "--lpips-random", "--no-resume", "--zero-snr", "--cache", "3", "--data", "m.jsonl"]
    assert runner.invoke(cli, ["train", "ip2p", "--out", str(tmp_path), *args]).exit_code == 0
    assert seen[-1] == IP2PTrainConfig(
        out=str(tmp_path),
        init="my/ip2p",
        size=256,
        lpips_pretrained=False,
        resume=False,
        zero_snr=True,
        cache=3,
        sources=("m.jsonl",),
    )
    assert runner.invoke(cli, ["train", "ip2p", "--out", str(tmp_path), "--cache", "-1"]).exit_code == 2
    shown = runner.invoke(cli, ["train", "ip2p", "--help"], terminal_width=200).output
    assert "Learning rate (peak, for cosine).  [default: 5e-05]" in shown and "--lr-schedule [constant|cosine]" in shown
    assert "--resume / --no-resume" in shown and "--lpips-random" not in shown  # a hidden test-only flag


def test_lpips_without_cached_backbone_says_how_to_go_on(tmp_path, monkeypatch):
    from editsearch.training.train_ip2p import LPIPSWeightsMissing, load_lpips

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LPIPSWeightsMissing, match="--lpips-weight 0"):
        load_lpips("vgg", pretrained=True)


def test_train_resumes_exactly_and_writes_a_loadable_pipeline(tiny_model, tiny_model_dir, tmp_path):
    from click.testing import CliRunner

    from editsearch.cli.main import cli
    from editsearch.training.train_ip2p import IP2PTrainConfig, train_ip2p
    from editsearch.transfer import EditTransfer

    args = [
        "train",
        "ip2p",
        "--out",
        str(tmp_path / "b"),
        "--init",
        "test",
        "--editclip",
        str(tiny_model_dir),
        "--synthetic",
        "--size",
        "32",
        "--batch-size",
        "2",
        "--checkpoint-every",
        "1",
        "--lpips-net",
        "squeeze",
        "--lpips-random",
        "--vae-steps",
        "1",
    ]
    runner = CliRunner()
    first = runner.invoke(cli, [*args, "--steps", "2"])  # trains its VAE first, into OUT/vae-pretrain
    assert first.exit_code == 0, first.output
    (tmp_path / "b" / "checkpoints" / "step-0000002" / "state.json").unlink()  # as if killed while saving step 2
    second = runner.invoke(cli, [*args, "--steps", "3"])  # resumes at step 1 (2 is incomplete), reusing that VAE
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout.strip().splitlines()[-1])["resumed_from"] == 1
    assert sorted(p.name for p in (tmp_path / "b" / "checkpoints").iterdir()) == ["step-0000002", "step-0000003"]

    straight = IP2PTrainConfig(
        out=str(tmp_path / "a"),
        steps=3,
        init="test",
        editclip=str(tiny_model_dir),
        size=32,
        batch_size=2,
        checkpoint_every=10,
        lpips_net="squeeze",
        lpips_pretrained=False,
        vae=str(tmp_path / "b" / "vae-pretrain"),
    )
    assert train_ip2p(straight, log=lambda m: None)["resumed_from"] == 0

    a = EditTransfer.from_pretrained(tmp_path / "a", device="cpu")
    b = EditTransfer.from_pretrained(tmp_path / "b", device="cpu")
    assert a.editclip.fingerprint == tiny_model.fingerprint
    for (name, x), (_, y) in zip(a.pipe.unet.state_dict().items(), b.pipe.unet.state_dict().items(), strict=True):
        torch.testing.assert_close(x, y, msg=name)
    torch.testing.assert_close(a.projector.proj.weight, b.projector.proj.weight)
    assert b.resolution == 32
    out = b.apply(random_image(1), random_image(2), [random_image(3, (32, 32))], steps=2)
    assert out[0].size == (32, 32)
    log = [json.loads(line) for line in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2, 3] and all(row["loss"] > 0 for row in log)


def test_train_cli_stops_plainly_when_lpips_weights_are_missing(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from editsearch.cli.main import cli

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(cli, ["train", "ip2p", "--out", str(tmp_path / "run"), "--init", "test"])
    assert result.exit_code == 1
    assert "LPIPS weights are missing" in result.output and "--lpips-weight 0" in result.output
    assert "Traceback" not in result.output


def test_feature_cache_matches_direct_features_and_visits_every_pair_once_per_epoch(tiny_model):
    from editsearch.training.ip2p_features import FeatureCache, frozen_features
    from editsearch.training.pairs import PairSampler, StepBatches

    vae = _parts(tiny_model).vae
    batches = StepBatches(PairSampler(size=16, seed=3), 2, 9, tiny_model.pair_transform)
    cache = FeatureCache.build(batches, 5, vae, tiny_model, torch.device("cpu"), seed=1)
    assert len(cache) == 9 and cache.count == 5
    direct = {
        k: torch.cat([frozen_features(vae, tiny_model, batches[s])[k] for s in range(3)])[:5]
        for k in ("after_mean", "image_latents", "tokens")
    }
    for key, value in direct.items():
        torch.testing.assert_close(cache.features[key].float(), value, atol=2e-2, rtol=1e-2)

    # 5 pairs, batches of 2: steps 0-4 cover 10 slots, i.e. two epochs, each a permutation of the 5 pairs
    rows = [tuple(cache[s]["image_latents"].flatten(1)[:, :4].tolist()) for s in range(5)]
    slots = [tuple(r) for step in rows for r in step]
    firsts = [tuple(r) for r in cache.features["image_latents"].float().flatten(1)[:, :4].tolist()]
    assert sorted(slots[:5]) == sorted(firsts) and sorted(slots[5:]) == sorted(firsts)
    resumed = FeatureCache(cache.features, 2, 9, seed=1)  # a fresh cache (a resumed run) gives the same batches
    assert resumed[3]["tokens"].equal(cache[3]["tokens"]) and resumed[0]["tokens"].equal(cache[0]["tokens"])
    assert cache[3]["tokens"].dtype == torch.float32


def test_cached_zero_snr_training_runs_several_epochs_and_saves_a_matching_pipeline(tiny_model_dir, tmp_path):
    from click.testing import CliRunner

    from editsearch.cli.main import cli
    from editsearch.transfer import EditTransfer

    out = tmp_path / "c"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "ip2p",
            "--out",
            str(out),
            "--init",
            "test",
            "--editclip",
            str(tiny_model_dir),
            "--data",
            "synthetic",
            "--size",
            "32",
            "--batch-size",
            "2",
            "--steps",
            "5",
            "--cache",
            "4",
            "--lpips-weight",
            "0",
            "--vae-steps",
            "1",
            "--lr",
            "1e-3",
            "--lr-schedule",
            "cosine",
            "--lr-warmup",
            "1",
            "--zero-snr",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 5 and torch.isfinite(torch.tensor(summary["last"]["loss"]))
    lrs = [json.loads(line)["lr"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(lrs) == 2 and lrs[0] == pytest.approx(1e-3) and lrs[1] == pytest.approx(0, abs=1e-12)  # cosine to 0
    transfer = EditTransfer.from_pretrained(out, device="cpu")
    config = transfer.pipe.scheduler.config  # --zero-snr travels with the pipeline, so sampling matches training
    assert (config.prediction_type, config.rescale_betas_zero_snr, config.timestep_spacing) == (
        "v_prediction",
        True,
        "trailing",
    )
    img = random_image(1, (32, 32))
    assert transfer.apply(img, random_image(2, (32, 32)), [img], steps=2, size=32)[0].size == (32, 32)
