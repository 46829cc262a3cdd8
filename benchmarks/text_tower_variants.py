"""The exported text tower against variants: one thread, eager attention, int8 weights and ONNX Runtime's fusions.

    python benchmarks/text_tower_variants.py [--texts 800] [--batch 8] [--rounds 2]
    python benchmarks/text_tower_variants.py --profile [--batch 8]

The default model's text graph (exported if need be: the MiniLM traced through PyTorch's SDPA attention) as
shipped (ONNX Runtime's default: one intra-op thread a core), the same graph on one intra-op thread, the
same MiniLM traced with eager attention (plain MatMul and Softmax), the shipped graph quantized by
`quantize_dynamic` (int8 weights, one scale per tensor and one per output channel), and rewritten by
`onnxruntime.transformers.optimizer` (BERT fusions), each in its own session with the shipped session
settings, timed side by side on the same distinct short texts in batches (a server's shared batch), round
after round. Printed: texts/s of each and its ratio to the shipped graph, the process's CPU time a text,
and how far each variant's embeddings are from the shipped ones (cosine, and the largest absolute difference).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

WORDS = ["make", "it", "brighter", "darker", "a", "watercolor", "painting", "vintage", "add", "snow", "blur", "the"]


def texts(n: int) -> list[str]:
    """n distinct short instructions."""
    rng = np.random.default_rng(0)
    return [f"{' '.join(rng.choice(WORDS, rng.integers(2, 7)))} {i}" for i in range(n)]


def one_thread(runtime: Any, path: Path, tokens: Any) -> Any:
    """A text tower of this graph with the shipped session settings but one intra-op thread (default: one a core)."""
    from editsearch.towers.runtime import OnnxTextTower, providers

    tower = OnnxTextTower(runtime, path, tokens, prepack=True)
    options = tower.session.get_session_options()
    options.intra_op_num_threads = 1
    tower.session = runtime.InferenceSession(str(path), options, providers=providers(runtime))
    return tower


def profile(runtime: Any, path: Path, tokens: Any, batch: list[str], runs: int = 100) -> None:
    """ONNX Runtime's own profile of the graph on one batch, one thread: each operator type's share of the time."""
    from collections import Counter

    from editsearch.towers.runtime import providers

    options = runtime.SessionOptions()
    options.intra_op_num_threads, options.enable_profiling = 1, True
    options.profile_file_prefix = str(Path(tempfile.gettempdir()) / "editsearch-text-tower")
    session = runtime.InferenceSession(str(path), options, providers=providers(runtime))
    inputs = tokens(batch)
    for _ in range(runs):
        session.run(None, inputs)
    trace = Path(session.end_profiling())
    spent: Counter[str] = Counter()
    for event in json.loads(trace.read_text()):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            spent[event["args"]["op_name"]] += event["dur"]
    trace.unlink()
    total = sum(spent.values())
    print(f"profile of {runs} runs of {inputs['input_ids'].shape} tokens (one thread), by operator type:")
    for op, us in spent.most_common(6):
        print(f"  {op:20s} {100 * us / total:5.1f}%  {us / runs / 1000:.2f} ms a run")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=800)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="only profile the shipped graph on one batch, by operator")
    args = ap.parse_args()

    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    from editsearch.encoder import load_model
    from editsearch.encoder.embedder import Embedder
    from editsearch.encoder.export import export_minilm_graph
    from editsearch.towers.cache import model_dir, read_json
    from editsearch.towers.runtime import OnnxTextTower, load_runtime, shared_tower

    embedder = Embedder(load_model(None))
    embedder.ready_towers()  # exports the towers if need be
    shipped = shared_tower("text", embedder.fingerprint)
    assert isinstance(shipped, OnnxTextTower), "the text tower was not exported"
    source = Path(read_json(model_dir(embedder.fingerprint) / "model.json")["text"]["onnx"])
    runtime = load_runtime()
    if args.profile:
        return profile(runtime, source, shipped.tokens, texts(args.batch))
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp) / f"{name}.onnx" for name in ("eager", "int8", "int8-channel", "fused")}
        export_minilm_graph(paths["eager"], attention="eager")
        quantize_dynamic(str(source), str(paths["int8"]), weight_type=QuantType.QInt8)
        quantize_dynamic(str(source), str(paths["int8-channel"]), weight_type=QuantType.QInt8, per_channel=True)
        fused = optimizer.optimize_model(str(source), model_type="bert", num_heads=12, hidden_size=384)
        print(f"fusions: { {op: n for op, n in fused.get_fused_operator_statistics().items() if n} }")
        fused.save_model_to_file(str(paths["fused"]))
        towers = {"shipped": shipped, "one thread": one_thread(runtime, source, shipped.tokens)}
        towers.update((name, OnnxTextTower(runtime, p, shipped.tokens, prepack=True)) for name, p in paths.items())
        batch = texts(args.texts)
        rates: dict[str, list[float]] = {name: [] for name in towers}
        cpu: dict[str, list[float]] = {name: [] for name in towers}  # CPU ms a text, every thread of the process
        for _ in range(args.rounds):
            for name, tower in towers.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                for i in range(0, len(batch), args.batch):
                    tower.embed_texts(batch[i : i + args.batch])
                rates[name].append(len(batch) / (time.perf_counter() - start))
                cpu[name].append((time.process_time() - start_cpu) * 1000 / len(batch))
        base = towers["shipped"].embed_texts(batch)
        for name, tower in towers.items():
            out = tower.embed_texts(batch)
            cos = np.sum(base * out, axis=1) / np.linalg.norm(base, axis=1) / np.linalg.norm(out, axis=1)
            rate = float(np.median(rates[name]))
            ratio = rate / float(np.median(rates["shipped"]))
            print(
                f"{name:12s} {rate:6.0f} texts/s ({ratio:.2f}x), CPU {np.median(cpu[name]):.2f} ms a text; "
                f"cosine to shipped mean {cos.mean():.4f}, "
                f"min {cos.min():.4f}; max |diff| {np.abs(base - out).max():.2e}"
            )


if __name__ == "__main__":
    main()
