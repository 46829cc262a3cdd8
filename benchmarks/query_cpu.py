"""CPU time of a served text query without HTTP and without the text tower: search, weak-match check, result JSON.

    python benchmarks/query_cpu.py INDEX_DIR [--queries 5000]

The same text every time, so after the first the text cache answers and what is timed is the rest of a
request's work in the server's process (FAISS, the catalog, ranking, the JSON shapes), on one thread. To
compare two revisions, run it under each in turn (PYTHONPATH=CHECKOUT python benchmarks/query_cpu.py ...),
alternating: the machine's speed drifts between runs.
"""

from __future__ import annotations

import argparse
import time

import faiss

import editsearch
from editsearch.search.api import EditSearch
from editsearch.serve.shapes import result_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("index", help="an index folder, e.g. one benchmarks/serve.py built")
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--text", default="make it look vintage")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    with EditSearch.open(args.index) as searcher:

        def one() -> list[dict]:
            results = searcher.search([args.text], k=10)
            searcher.weak_match(results, "hybrid")
            return [result_json(r) for r in results]

        for _ in range(50):
            one()
        started = time.process_time()
        for _ in range(args.queries):
            one()
        cpu_ms = (time.process_time() - started) / args.queries * 1000
    print(f"{editsearch.__file__}: {cpu_ms:.3f} ms CPU a query ({args.queries} queries)")


if __name__ == "__main__":
    main()
