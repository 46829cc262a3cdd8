"""EditCLIP encoder: shapes, normalisation, conv1 init, preprocessing, persistence, official format."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import random_image, tiny_config
from PIL import Image

from editsearch.encoder import EditCLIP, WeightsNotFoundError, load_model
from editsearch.encoder.checkpoints import from_open_clip
from editsearch.encoder.model import widen_conv1
from editsearch.encoder.registry import random_model


def pairs(n: int, offset: int = 0) -> tuple[list[Image.Image], list[Image.Image]]:
    return [random_image(offset + i) for i in range(n)], [random_image(offset + 100 + i) for i in range(n)]


def test_shapes_and_normalisation(tiny_model: EditCLIP) -> None:
    b, a = pairs(5)
    emb = tiny_model.embed_pairs(b, a, batch_size=2)
    assert emb.shape == (5, 16) and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=-1), torch.ones(5), atol=1e-5)
    txt = tiny_model.embed_texts(["make it watercolor", "add snow", "make it watercolor"])
    assert txt.shape == (3, 16)
    assert torch.allclose(txt.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.equal(txt[0], txt[2])
    tokens = tiny_model.edit_tokens(b, a)
    assert tokens.shape == (5, (32 // 8) ** 2 + 1, 32)


def test_batching_does_not_change_results(tiny_model: EditCLIP) -> None:
    b, a = pairs(5)
    one, five = tiny_model.embed_pairs(b, a, batch_size=1), tiny_model.embed_pairs(b, a, batch_size=5)
    assert torch.allclose(one, five, atol=1e-5)


def test_channel_order_is_before_then_after(tiny_model: EditCLIP) -> None:
    x = tiny_model.pair_transform(random_image(1), random_image(2))
    assert x.shape == (6, 32, 32)
    assert torch.equal(x[:3], tiny_model.pair_transform.image(random_image(1)))
    assert torch.equal(x[3:], tiny_model.pair_transform.image(random_image(2)))


def test_conv1_init_makes_embedding_depend_only_on_before() -> None:
    model = EditCLIP(tiny_config(), widen=False)
    old = model.visual.conv1.weight.detach().clone()
    widen_conv1(model.visual, 6)
    w = model.visual.conv1.weight
    assert w.shape[1] == 6 and torch.equal(w[:, :3], old) and torch.count_nonzero(w[:, 3:]) == 0
    b, a = pairs(3)
    other_afters = [random_image(500 + i) for i in range(3)]
    e1, e2 = model.embed_pairs(b, a), model.embed_pairs(b, other_afters)
    assert torch.allclose(e1, e2, atol=1e-6)
    e3 = model.embed_pairs([random_image(900 + i) for i in range(3)], a)
    assert not torch.allclose(e1, e3, atol=1e-3)


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "LA", "I;16", "I", "1"])
def test_any_mode_is_accepted(tiny_model: EditCLIP, mode: str, tmp_path) -> None:
    img = random_image(3, mode="RGB")
    if mode == "I;16":
        arr = (np.asarray(img.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        img = Image.fromarray(arr)
        assert img.mode == "I;16"
    else:
        img = img.convert(mode)
    x = tiny_model.pair_transform(img, img)
    assert x.shape == (6, 32, 32) and torch.isfinite(x).all()
    if mode == "I;16":  # 16-bit must not saturate to white: same as its 8-bit version
        ref = tiny_model.pair_transform.image(random_image(3).convert("L"))
        assert torch.allclose(x[:3], ref, atol=0.05)


def test_animated_gif_uses_first_frame(tiny_model: EditCLIP, tmp_path) -> None:
    frames = [Image.new("RGB", (40, 40), c) for c in [(255, 0, 0), (0, 0, 255)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    x = tiny_model.pair_transform(path, path)
    red = tiny_model.pair_transform.image(Image.new("RGB", (40, 40), (255, 0, 0)))
    assert torch.allclose(x[:3], red, atol=0.05)


def test_paths_pil_and_tensors_agree(tiny_model: EditCLIP, image_files) -> None:
    pil = Image.open(image_files[0]).convert("RGB")
    t = torch.from_numpy(np.asarray(pil).copy()).permute(2, 0, 1).float() / 255
    from_path = tiny_model.embed_pairs([image_files[0]], [image_files[1]])
    from_pil = tiny_model.embed_pairs([pil], [image_files[1]])
    from_tensor = tiny_model.embed_pairs([t], [image_files[1]])
    assert torch.allclose(from_path, from_pil, atol=1e-6)
    assert torch.allclose(from_path, from_tensor, atol=0.05)


def test_ec2t_and_ec2ec(tiny_model: EditCLIP) -> None:
    b, a = pairs(3)
    texts = ["add snow", "make it vintage", "watercolor"]
    s = tiny_model.ec2t(b, a, texts)
    expected = (tiny_model.embed_pairs(b, a) * tiny_model.embed_texts(texts)).sum(-1)
    assert s.shape == (3,) and torch.allclose(s, expected, atol=1e-6)
    same = tiny_model.ec2ec((b, a), (b, a))
    assert torch.allclose(same, torch.ones(3), atol=1e-5)
    b2, a2 = pairs(3, offset=40)
    assert (tiny_model.ec2ec((b, a), (b2, a2)) < 0.9999).all()
    with pytest.raises(ValueError):
        tiny_model.ec2t(b, a, texts[:2])


def test_save_load_round_trip(tiny_model: EditCLIP, tiny_model_dir) -> None:
    loaded = load_model(tiny_model_dir, device="cpu")
    b, a = pairs(3)
    assert torch.equal(loaded.embed_pairs(b, a), tiny_model.embed_pairs(b, a))
    assert torch.equal(loaded.embed_texts(["x y"]), tiny_model.embed_texts(["x y"]))
    assert torch.equal(loaded.edit_tokens(b, a), tiny_model.edit_tokens(b, a))
    assert loaded.fingerprint == tiny_model.fingerprint


def test_fingerprint_changes_with_weights() -> None:
    m1, m2 = random_model(tiny_config(), seed=0), random_model(tiny_config(), seed=1)
    assert m1.fingerprint != m2.fingerprint and len(m1.fingerprint) == 64


def test_minilm_text_tower_is_real_and_frozen() -> None:
    model = random_model(tiny_config(text={"kind": "minilm"}, embed_dim=384))
    emb = model.embed_texts(["make it black and white", "convert to grayscale", "add falling snow"])
    assert emb.shape == (3, 384)
    sims = emb @ emb.T
    assert sims[0, 1] > sims[0, 2] + 0.1  # a real sentence encoder: paraphrases are closer
    assert not any(p.requires_grad for p in model.text.parameters())
    assert "text." not in " ".join(model.state_dict())  # frozen MiniLM is never saved with our weights


# ----- the official release format (transformers CLIPModel), on a tiny random model -----------------
@pytest.fixture(scope="module")
def hf_clip_dir(tmp_path_factory):
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(
            vocab_size=49408,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
            num_channels=6,
            hidden_act="quick_gelu",
        ),
        projection_dim=24,
    )
    model = CLIPModel(cfg).eval()
    with torch.no_grad():  # make every weight non-trivial, LayerNorms and biases included
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    out = tmp_path_factory.mktemp("hf-editclip")
    model.save_pretrained(out)
    conf = json.loads((out / "config.json").read_text())
    conf["vision_config"].pop("num_channels", None)  # as released: users had to add it by hand
    (out / "config.json").write_text(json.dumps(conf))
    return out, model


def _hf_features(out):
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def test_official_format_matches_transformers(hf_clip_dir) -> None:
    path, hf = hf_clip_dir
    ours = load_model(path, device="cpu")
    assert ours.config.in_channels == 6 and ours.config.quick_gelu
    b, a = pairs(3)
    x = torch.stack([ours.pair_transform(bi, ai) for bi, ai in zip(b, a, strict=True)])
    with torch.no_grad():
        ref_img = torch.nn.functional.normalize(_hf_features(hf.get_image_features(pixel_values=x)), dim=-1)
        ref_tok = hf.vision_model(pixel_values=x).last_hidden_state
        texts = ["make it watercolor", "add snow to the scene"]
        ids = ours.text.tokenize(texts)
        ref_txt = torch.nn.functional.normalize(_hf_features(hf.get_text_features(input_ids=ids)), dim=-1)
    assert (ours.embed_pairs(b, a) - ref_img).abs().max() <= 1e-4
    assert (ours.edit_tokens(b, a) - ref_tok).abs().max() <= 1e-4
    assert (ours.embed_texts(texts) - ref_txt).abs().max() <= 1e-4
    assert abs(ours.logit_scale.item() - hf.logit_scale.item()) < 1e-6


def test_offline_open_clip_tag_gives_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as err:
        from_open_clip("ViT-B-32", "laion2b_s34b_b79k_does_not_exist_here")
    msg = str(err.value)
    assert "ViT-B-32" in msg and "cannot be downloaded" in msg and "open_clip:" in msg


def test_offline_hub_model_gives_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as err:
        load_model("editclip-vit-l-14", device="cpu")
    assert "QWW/EditCLIP" in str(err.value) and "--model DIR" in str(err.value)
    with pytest.raises(WeightsNotFoundError, match="no model named"):
        load_model("no-such-model", device="cpu")


def test_open_clip_builtin_architecture_random_init() -> None:
    model = from_open_clip("ViT-B-32", None, text_kind="minilm")
    assert model.visual.conv1.weight.shape == (768, 6, 32, 32)
    assert model.embed_dim == 384 and model.config.image_size == 224


def test_large_jpeg_is_decoded_at_reduced_scale_with_the_same_result(tiny_model: EditCLIP, tmp_path) -> None:
    from editsearch.media.images import load_image

    smooth = np.linspace(0, 255, 400, dtype=np.float32)
    arr = np.stack(
        [smooth[None, :].repeat(320, 0), smooth[:320, None].repeat(400, 1), 255 - smooth[None, :].repeat(320, 0)], -1
    )
    path = tmp_path / "big.jpg"
    Image.fromarray(arr.astype(np.uint8)).save(path, quality=95)
    reduced = load_image(path, min_size=32)
    assert reduced.size == (50, 40)  # 1/8 scale: the smallest whose sides stay >= 32
    assert load_image(path).size == (400, 320)
    png = tmp_path / "big.png"
    Image.fromarray(arr.astype(np.uint8)).save(png)
    assert load_image(png, min_size=32).size == (400, 320)  # only JPEG has DCT scaling
    full = open_clip_transform(tiny_model)(load_image(path))
    assert torch.allclose(tiny_model.pair_transform.image(path), full, atol=0.1)


def open_clip_transform(model: EditCLIP):
    """open_clip's own eval transform for the model's size and normalisation."""
    import open_clip

    c = model.config
    return open_clip.image_transform(c.image_size, is_train=False, mean=c.image_mean, std=c.image_std)


def test_pair_transform_is_open_clips_eval_transform_bit_for_bit(tiny_model: EditCLIP, image_files) -> None:
    from editsearch.media.images import load_image

    pt = tiny_model.pair_transform
    reference = open_clip_transform(tiny_model)
    before, after = load_image(image_files[0]), load_image(image_files[1])
    expected = torch.cat([reference(before), reference(after)])
    assert torch.equal(pt(before, after), expected)
    pixels = pt.pixels(before, after)
    assert pixels.dtype == torch.uint8 and pixels.shape == expected.shape
    batch = torch.stack([pixels, pt.pixels(after, before)])
    assert torch.equal(pt.normalize(batch)[0], expected)  # batched normalisation, same bits
    assert torch.equal(pt.normalize(batch)[1], torch.cat([reference(after), reference(before)]))


@pytest.mark.parametrize("shape", [(40, 48), (48, 40), (17, 90), (32, 32), (20, 20), (33, 31)])
def test_resize_center_crop_is_open_clips_eval_geometry(shape) -> None:
    import open_clip
    from torchvision.transforms import v2

    from editsearch.encoder.preprocess import resize_center_crop, square_pixels

    img = random_image(sum(shape), size=shape)
    geometry = v2.Compose(open_clip.image_transform(32, is_train=False).transforms[:2])
    expected = np.asarray(geometry(img))
    assert np.array_equal(np.asarray(resize_center_crop(img, 32)), expected)
    assert torch.equal(square_pixels(img, 32), torch.from_numpy(expected.copy()).permute(2, 0, 1))


def test_text_cache_keeps_the_most_recent_texts_only(tiny_model, monkeypatch):
    from editsearch.encoder import model as model_module

    monkeypatch.setattr(model_module, "TEXT_CACHE_SIZE", 3)  # the name the model module reads
    tiny_model._text_cache.clear()
    first = tiny_model.embed_texts(["a", "b", "c"])
    tiny_model.embed_texts(["a"])  # a is now the most recent
    again = tiny_model.embed_texts(["d", "e"])
    assert list(tiny_model._text_cache) == ["a", "d", "e"]
    assert torch.allclose(tiny_model.embed_texts(["a", "b"]), first[:2], atol=1e-5)  # b recomputed
    assert len(tiny_model._text_cache) == 3 and again.shape == (2, first.shape[1])
