"""EditCLIP training: loss, per-group learning rates through the scheduler, a short run with resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from editsearch.evaluation.metrics import hit_at_k, mean_average_precision, retrieval_metrics
from editsearch.training.train_editclip import (
    EditCLIPTrainConfig,
    clip_loss,
    lr_multiplier,
    pair_contrastive,
    param_groups,
    train,
)


def test_clip_loss_prefers_matching_texts() -> None:
    img = F.normalize(torch.randn(4, 8), dim=-1)
    pos = torch.eye(4, dtype=torch.bool)
    good = clip_loss(img, img.clone(), pos, torch.tensor(50.0))
    bad = clip_loss(img, img.roll(1, 0), pos, torch.tensor(50.0))
    assert good < 0.01 < bad
    # several positives per row: duplicated texts are not treated as negatives
    pos2 = torch.tensor([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=torch.bool)
    txt = torch.stack([img[0], img[0], img[2]])
    assert clip_loss(torch.stack([img[0], img[0], img[2]]), txt, pos2, torch.tensor(50.0)) < 0.75


def test_pair_contrastive_pulls_same_labels_together() -> None:
    a, b = F.normalize(torch.randn(2, 8), dim=-1)
    together = torch.stack([a, a, b, b])
    apart = torch.stack([a, b, a, b])
    labels = torch.tensor([0, 0, 1, 1])
    s = torch.tensor(20.0)
    assert pair_contrastive(together, labels, s) < pair_contrastive(apart, labels, s)


def test_per_group_learning_rates_survive_the_scheduler(tiny_model) -> None:
    groups = param_groups(tiny_model, lr=2e-6, conv1_lr=2e-4, weight_decay=0.02)
    names = {g["name"]: g for g in groups}
    assert names["conv1"]["params"][0] is tiny_model.visual.conv1.weight
    assert names["no_decay"]["weight_decay"] == 0 and names["decay"]["weight_decay"] == 0.02
    assert all(p.ndim >= 2 for p in names["decay"]["params"])
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.98), eps=1e-6)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_multiplier(s, 3, 20))
    for _ in range(7):
        opt.step()
        sched.step()
        lrs = {g["name"]: g["lr"] for g in opt.param_groups}
        assert lrs["conv1"] / lrs["decay"] == pytest.approx(100.0)
    assert lr_multiplier(2, 3, 20) == 1.0 and lr_multiplier(20, 3, 20) == pytest.approx(0.0)


def test_metrics_on_known_rankings() -> None:
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.1, 0.3, 0.2]])
    rel = torch.tensor([[False, False, True], [True, False, False]])
    assert hit_at_k(scores, rel, 1) == 0.0 and hit_at_k(scores, rel, 2) == 0.5 and hit_at_k(scores, rel, 3) == 1.0
    assert mean_average_precision(scores, rel) == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert retrieval_metrics(scores, rel)["top1"] == 0.0


def test_short_training_run_learns_and_resumes(tiny_model_dir, tmp_path) -> None:
    cfg = EditCLIPTrainConfig(
        out=str(tmp_path / "run"),
        init=str(tiny_model_dir),
        steps=6,
        batch_size=16,
        pool=48,
        pool_size=40,
        lr=1e-3,
        warmup=1,
        eval_every=3,
        checkpoint_every=3,
        workers=0,
        name="tiny-trained",
    )
    first = train(cfg)
    hist = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in hist] == [3, 6]
    assert {"text->edit/top1", "edit->text/hit@5", "edit->edit/top1"} <= set(first)
    saved = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert saved["trained"] is True and saved["name"] == "tiny-trained"
    checkpoints = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step-0000003", "step-0000006"]
    assert (checkpoints / "step-0000006" / "state.json").exists()
    # a run saved in the older layout (step-N + progress.json) resumes too; a checkpoint killed while being
    # written (no state file) is ignored, though it is the newest
    for new in list(checkpoints.iterdir()):
        (new / "state.json").rename(new / "progress.json")
        new.rename(checkpoints / f"step-{int(new.name.removeprefix('step-'))}")
    (checkpoints / "step-0000007").mkdir()
    cfg.steps = 8  # resume from step 6, not from scratch
    train(cfg)
    hist = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in hist][-1] == 8 and len(hist) == 3
    # the newest two complete checkpoints are kept; the unfinished one older than them is gone
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step-0000008", "step-6"]


@pytest.mark.parametrize("fusion", ["channels", "frames"])
def test_each_pair_fusion_trains_with_the_same_loop(fusion, tmp_path) -> None:
    from conftest import tiny_config

    from editsearch.encoder import load_model
    from editsearch.encoder.registry import random_model

    init = random_model(tiny_config().with_fusion(fusion), seed=0)
    init.save_pretrained(tmp_path / "init")
    cfg = EditCLIPTrainConfig(
        out=str(tmp_path / "run"),
        init=str(tmp_path / "init"),
        pair_fusion=fusion,
        steps=2,
        batch_size=8,
        pool=16,
        pool_size=40,
        warmup=1,
        eval_every=2,
        checkpoint_every=2,
        workers=0,
        name=f"tiny-{fusion}",
        variety="wide" if fusion == "channels" else "canonical",
        hard_reversed=0.25,
    )
    metrics = train(cfg)
    assert np.isfinite(metrics["loss"]) and "edit->edit/top1" in metrics
    trained = load_model(str(tmp_path / "run" / "model"), device="cpu")
    assert trained.config.pair_fusion == fusion and trained.trained
    assert trained.visual.conv1.in_channels == {"channels": 6, "frames": 3}[fusion]
    assert trained.fingerprint != init.fingerprint  # the weights moved
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["pair_fusion"] == fusion


def test_training_lowers_the_loss_on_a_fixed_batch(tiny_model) -> None:
    import copy

    model = copy.deepcopy(tiny_model).train()
    x = torch.randn(8, 6, 32, 32)
    txt = F.normalize(torch.randn(4, 16), dim=-1)
    pos = torch.zeros(8, 4, dtype=torch.bool)
    pos[torch.arange(8), torch.arange(8) % 4] = True
    opt = torch.optim.AdamW(param_groups(model, 1e-3, 1e-3, 0.0), betas=(0.9, 0.98), eps=1e-6)
    losses = []
    for _ in range(15):
        loss = clip_loss(F.normalize(model(x), dim=-1), txt, pos, torch.tensor(20.0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.7
    assert not any(p.requires_grad for p in model.text.parameters())


def test_train_editclip_cli_takes_its_defaults_from_the_config_and_one_data_option(tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from editsearch.cli.main import cli
    from editsearch.training import train_editclip

    seen: list[EditCLIPTrainConfig] = []
    monkeypatch.setattr(train_editclip, "train", lambda cfg: seen.append(cfg) or {})
    runner = CliRunner()
    assert runner.invoke(cli, ["train", "editclip", "--out", str(tmp_path)]).exit_code == 0
    assert seen[-1] == EditCLIPTrainConfig(out=str(tmp_path))
    args = ["train", "editclip", "--out", str(tmp_path), "--data", "a.jsonl", "--data", "b.parquet"]
    assert runner.invoke(cli, args).exit_code == 0
    assert seen[-1].sources == ("a.jsonl", "b.parquet")
    for spelling in (["--data", "synthetic"], ["--synthetic"]):
        assert runner.invoke(cli, ["train", "editclip", "--out", str(tmp_path), *spelling]).exit_code == 0
        assert seen[-1].sources == ()
    mixed = runner.invoke(cli, ["train", "editclip", "--out", str(tmp_path), "--synthetic", "--data", "a.jsonl"])
    assert mixed.exit_code == 2 and "cannot be mixed" in mixed.output and len(seen) == 4


def test_training_texts_are_templates_or_varied_rewordings() -> None:
    import numpy as np

    from editsearch.data.synthetic.generator import FAMILIES
    from editsearch.training.pairs import PairPool, sample_texts

    pool = PairPool(torch.zeros(2, 6, 8, 8, dtype=torch.uint8), ["sepia", "blur"], [{}, {}], [None, "my own words"])
    idx = torch.tensor([0, 1] * 100)
    templates = sample_texts(pool, idx, np.random.default_rng(0), varied=False)
    varied = sample_texts(pool, idx, np.random.default_rng(0), varied=True)
    assert set(templates[::2]) <= set(FAMILIES["sepia"].train_phrasings)
    assert set(templates[1::2]) == set(varied[1::2]) == {"my own words"}  # stored instructions are kept as given
    reworded = set(varied[::2]) - set(FAMILIES["sepia"].train_phrasings)
    assert len(reworded) > 20 and any("sepia" in t for t in reworded)


def test_a_reversed_pair_is_a_negative_for_its_text_unless_its_family_is_its_own_inverse() -> None:
    from editsearch.training.train_editclip import reversed_rows

    x = torch.arange(4 * 6 * 2 * 2, dtype=torch.float32).view(4, 6, 2, 2)
    labels, self_inverse = torch.tensor([3, 5, 7, 9]), torch.tensor([False, True, False, False])
    rev, rev_labels = reversed_rows(x, labels, self_inverse, 0.5)
    assert rev.shape == (2, 6, 2, 2) and torch.equal(rev[:, :3], x[:2, 3:]) and torch.equal(rev[:, 3:], x[:2, :3])
    assert rev_labels.tolist() == [-1, 5]
    assert reversed_rows(x, labels, self_inverse, 0.0)[0].shape[0] == 0

    # a row that matches no text leaves the pairs' direction alone and pushes the texts' direction up
    img = F.normalize(torch.randn(3, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    txt = img[:2].clone()
    pos = torch.tensor([[True, False], [False, True]])
    plain = clip_loss(img[:2], txt, pos, torch.tensor(10.0))
    negative = torch.cat([img[:2], txt[:1]])  # a reversed pair as close to text 0 as its own pair
    harder = clip_loss(negative, txt, torch.cat([pos, torch.tensor([[False, False]])]), torch.tensor(10.0))
    assert harder > plain
