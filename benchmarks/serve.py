"""`editsearch serve` under load: warm HTTP text-query latency and throughput vs the same query in-process.

For each index size (synthetic unit vectors in a real catalog bound to the default model; every edit's
images point at a few real files), it times the text query `EditSearch.search_text(q, k=10)` in-process,
then through a live `editsearch serve` (uvicorn, loopback) with 1 and 8 concurrent httpx clients.
Queries are either "repeated" (50 phrases cycled: the model's text-embedding cache answers after the
first pass) or "distinct" (every request a new string: each one runs the text tower). Then a bounded
load test mixes searches, thumbnail and edit fetches and one apply, sampling the server's RSS; it runs
twice, and the second pass (after the pipeline is loaded and the thumbnail cache filled) shows whether
memory stays flat. Each server also answers 500 health probes from one client (latency, its CPU a probe).

    flock /tmp/editsearch-tests.lock .venv/bin/python benchmarks/serve.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from PIL import Image

PHRASES = [
    "make it a watercolor painting", "convert to black and white", "invert the colors", "mirror the image",
    "add strong contrast", "make it brighter", "make it darker", "give it a grainy film look", "blur it",
    "sharpen the details", "make it look vintage", "add a warm tone", "make it colder", "rotate it",
    "paint it in oil", "make it a pencil sketch", "increase saturation", "desaturate it", "add a vignette",
    "make it look like a photo from the seventies",
]  # fmt: skip
PHRASES = [f"{p}{suffix}" for suffix in ("", " please", " a little") for p in PHRASES][:50]


def build_index(directory: Path, n: int, images: list[Path], index_type: str = "auto", seed: int = 0) -> Path:
    """A catalog of n edits with random unit vectors, bound to the default model, and its FAISS cache."""
    from editsearch.encoder import load_model
    from editsearch.index.store import EditIndex

    if (directory / "catalog.db").exists():
        return directory
    model = load_model(None)
    rng = np.random.default_rng(seed)
    with EditIndex.open(directory, create=True) as index:
        index.bind_model(model)
        for start in range(0, n, 20_000):
            count = min(20_000, n - start)
            vecs = rng.standard_normal((count, model.embed_dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            rows = []
            for i in range(start, start + count):
                before, after = images[(2 * i) % len(images)], images[(2 * i + 1) % len(images)]
                rows.append(
                    {"key": f"synthetic-{i}", "origin": "synthetic", "source": "synthetic", "before": str(before),
                     "after": str(after), "instruction": PHRASES[i % len(PHRASES)], "metadata": {"n": i}}
                )  # fmt: skip
            index.catalog.save_edits(rows, [v.tobytes() for v in vecs], model.fingerprint)
        index.rebuild(index_type)
    return directory


def make_images(directory: Path, count: int = 16) -> list[Path]:
    """A few real 256 px photos-to-be (noise over gradients) for the catalogued edits to point at."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for i in range(count):
        path = directory / f"img{i}.jpg"
        if not path.exists():
            grad = np.linspace(0, 255, 256)[None, :, None] * rng.random(3)[None, None, :]
            arr = np.clip(grad + rng.normal(0, 30, (256, 256, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(path, quality=90)
        paths.append(path)
    return paths


def queries(mode: str, count: int, salt: str) -> list[str]:
    """`count` query strings: the 50 phrases cycled, or all distinct."""
    if mode == "repeated":
        return [PHRASES[i % len(PHRASES)] for i in range(count)]
    return [f"{PHRASES[i % len(PHRASES)]} {salt}{i}" for i in range(count)]


def summary(latencies_s: list[float], wall_s: float, errors: int) -> dict[str, float]:
    ms = np.asarray(latencies_s) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "qps": len(ms) / wall_s,
        "errors": errors,
        "n": len(ms),
    }


def in_process(index_dir: Path, texts: list[str]) -> dict[str, float]:
    """The same query through the Python API, one thread, warm."""
    from editsearch.search.api import EditSearch

    with EditSearch.open(index_dir) as searcher:
        searcher.search_text("warm up", k=10)
        times = []
        started = time.perf_counter()
        for text in texts:
            t0 = time.perf_counter()
            searcher.search_text(text, k=10)
            times.append(time.perf_counter() - t0)
        return summary(times, time.perf_counter() - started, 0)


def cpu_ms(process: psutil.Process) -> float:
    """CPU time (user + system) a process has used so far, ms."""
    times = process.cpu_times()
    return (times.user + times.system) * 1000


def http_run(url: str, texts: list[str], clients: int, server: psutil.Process) -> dict[str, float]:
    """Text queries over HTTP from `clients` threads, each with its own keep-alive connection; with the CPU time
    the server and these clients spent a request (both on the same cores)."""
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker(part: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for text in part:
                t0 = time.perf_counter()
                try:
                    ok = client.get("/api/search", params={"text": text, "k": 10}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                dt = time.perf_counter() - t0
                with lock:
                    times.append(dt)
                    errors[0] += not ok

    threads = [threading.Thread(target=worker, args=(texts[i::clients],)) for i in range(clients)]
    me = psutil.Process()
    cpu_before = cpu_ms(server), cpu_ms(me)
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    figures = summary(times, time.perf_counter() - started, errors[0])
    figures["server_cpu_ms"] = (cpu_ms(server) - cpu_before[0]) / len(texts)
    figures["client_cpu_ms"] = (cpu_ms(me) - cpu_before[1]) / len(texts)
    return figures


def health_run(url: str, probes: int, server: psutil.Process) -> dict[str, float]:
    """`probes` GET /healthz from one client, as a load balancer sends them: latency and the server's CPU a probe."""
    times = []
    cpu_before = cpu_ms(server)
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(probes):
            t0 = time.perf_counter()
            client.get("/healthz").raise_for_status()
            times.append(time.perf_counter() - t0)
    figures = summary(times, time.perf_counter() - started, 0)
    figures["server_cpu_ms"] = (cpu_ms(server) - cpu_before) / probes
    return figures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cli = Path(sys.executable).parent / "editsearch"
    proc = subprocess.Popen(
        [str(cli), "serve", "--index", str(index_dir), "--port", str(port)],
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                httpx.get(f"{url}/api/search", params={"text": "warm up"}, timeout=30)
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start")


def load_test(url: str, proc: subprocess.Popen, n_edits: int, photo: Path, requests: int, limit_s: float) -> dict:
    """Bounded mixed load from 8 clients (searches, thumbnails, edit JSON) with one apply; RSS sampled."""
    rss: list[float] = []
    errors = [0]
    done = [0]
    counting = threading.Lock()
    stop = threading.Event()
    server = psutil.Process(proc.pid)

    def sample() -> None:
        while not stop.is_set():
            rss.append(server.memory_info().rss / 2**20)
            stop.wait(0.25)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, timeout=60) as client:
            while not stop.is_set():
                with counting:
                    if done[0] >= requests:
                        return
                    done[0] += 1
                roll, edit = rng.random(), rng.randint(1, n_edits)
                if roll < 0.6:
                    r = client.get("/api/search", params={"text": rng.choice(PHRASES), "k": 24})
                elif roll < 0.95:
                    side = rng.choice(["before", "after"])
                    r = client.get(f"/api/edits/{edit}/{side}", params={"size": rng.choice([128, 256])})
                else:
                    r = client.get(f"/api/edits/{edit}")
                with counting:
                    errors[0] += r.status_code != 200

    def apply_once(result: dict) -> None:
        time.sleep(1.0)
        t0 = time.perf_counter()
        with httpx.Client(base_url=url, timeout=300) as client:
            r = client.post("/api/apply", data={"edit_id": "1"}, files={"image": ("photo.jpg", photo.read_bytes())})
        result.update(status=r.status_code, seconds=time.perf_counter() - t0)

    applied: dict = {}
    threads = [threading.Thread(target=sample), threading.Thread(target=apply_once, args=(applied,))]
    threads += [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join(limit_s)
    stop.set()
    threads[0].join()
    wall = time.perf_counter() - started
    third = max(1, len(rss) // 3)
    return {
        "requests": done[0],
        "errors": errors[0],
        "seconds": wall,
        "apply_status": applied.get("status"),
        "apply_s": applied.get("seconds"),
        "rss_first_third_mb": float(np.median(rss[:third])),
        "rss_last_third_mb": float(np.median(rss[-third:])),
        "rss_max_mb": max(rss),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--requests", type=int, default=2000, help="HTTP requests per (size, mode, clients) run")
    parser.add_argument("--modes", nargs="+", default=["repeated", "distinct"], choices=["repeated", "distinct"])
    parser.add_argument("--load-requests", type=int, default=3000, help="0: no load test")
    parser.add_argument("--load-seconds", type=float, default=90.0)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "editsearch-bench-serve")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    parser.add_argument("--index-type", default="auto", help="FAISS type (auto, a new index's default: pq from 100k)")
    args = parser.parse_args()

    images = make_images(args.work / "images")
    rows, figures = [], {}
    for n in args.sizes:
        t0 = time.perf_counter()
        index_dir = build_index(args.work / f"index-{n}-{args.index_type}", n, images, args.index_type)
        print(f"index of {n} edits ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        proc, url = start_server(index_dir)
        try:
            for mode in args.modes:
                base = in_process(index_dir, queries(mode, min(args.requests, 1000), f"p{n}"))
                row = {"size": n, "mode": mode, "in_process": base}
                for clients in (1, 8):
                    texts = queries(mode, args.requests, f"h{n}c{clients}")
                    row[f"http_{clients}"] = http_run(url, texts, clients, psutil.Process(proc.pid))
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
            figures[f"health_{n}"] = health_run(url, 500, psutil.Process(proc.pid))
            print(json.dumps({f"health_{n}": figures[f"health_{n}"]}), file=sys.stderr)
            if n == min(args.sizes) and args.load_requests:
                # twice: the first pass loads the apply pipeline and fills the bounded thumbnail cache; the
                # second, the same load again, shows whether memory then stays flat
                for name in ("load_warmup", "load"):
                    figures[name] = load_test(url, proc, n, images[0], args.load_requests, args.load_seconds)
                    print(json.dumps({name: figures[name]}), file=sys.stderr)
        finally:
            proc.terminate()
            proc.wait(30)
    figures["rows"] = rows
    print("| edits | queries | in-process p50 ms | HTTP 1 client p50 / p95 ms | HTTP 1 client q/s "
          "| HTTP 8 clients p50 / p95 ms | HTTP 8 clients q/s | errors | HTTP / in-process p50 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        one, eight, base = r["http_1"], r["http_8"], r["in_process"]
        print(
            f"| {r['size']:,} | {r['mode']} | {base['p50_ms']:.2f} | {one['p50_ms']:.2f} / {one['p95_ms']:.2f} "
            f"| {one['qps']:.0f} | {eight['p50_ms']:.2f} / {eight['p95_ms']:.2f} | {eight['qps']:.0f} "
            f"| {one['errors'] + eight['errors']} of {one['n'] + eight['n']} | {one['p50_ms'] / base['p50_ms']:.2f}x |"
        )
    print("\n| edits | queries | 8 clients: server CPU ms a request | clients' CPU ms a request |\n|---|---|---|---|")
    for r in rows:
        eight = r["http_8"]
        print(f"| {r['size']:,} | {r['mode']} | {eight['server_cpu_ms']:.1f} | {eight['client_cpu_ms']:.1f} |")
    for n in args.sizes:
        health = figures[f"health_{n}"]
        print(
            f"\n/healthz at {n:,} edits: p50 {health['p50_ms']:.2f} ms, "
            f"server CPU {health['server_cpu_ms']:.2f} ms a probe"
        )
    for name in ("load_warmup", "load"):
        if name in figures:
            rounded = {k: round(v, 2) if isinstance(v, float) else v for k, v in figures[name].items()}
            print(f"\n{name.replace('_', ' ')}:", json.dumps(rounded))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
