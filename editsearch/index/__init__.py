"""The edit index: a SQLite catalog (the truth) plus a FAISS cache (derived, always rebuildable).

One index is one directory:

    catalog.db      edits, vectors (float32 BLOBs), instruction_vectors, models, errors, settings, schema_version,
                    edits_fts (editsearch.index.catalog); and the tables other stages keep beside the edits, each
                    made by its stage's store through a named migration set recorded in `migrations`
                    (editsearch.core.migrations): pair_signatures (pairs), map_points (atlas),
                    visii_instructions (transfer)
    vectors.faiss   FAISS index of the live vectors, keyed by the catalog's `vectors.id`
    vectors.json    what that file holds: type, dim, count, model fingerprint, catalog generation
    instructions.faiss / instructions.json  FAISS cache of the instruction vectors (keyed by instruction_vectors.id),
                    derived and checked like vectors.faiss
    write.lock      flock held by the one writer (readers never wait)

Design decisions, and why:

- FAISS is keyed by `vectors.id`, not `edits.id`. A vector row never changes once written (a
  re-embedded edit gets a new row), so "FAISS agrees with the catalog" reduces to "FAISS holds exactly
  the ids of the live vector rows", a cheap set comparison, and HNSW (which cannot remove) can add an
  edit's new vector while its old one stays behind as a tombstone. Search joins hits back to live
  edits, which drops tombstones and applies filters in the same query.
- Every write that changes the live vectors bumps `settings.generation` in its own transaction; a
  saved FAISS file records the generation it reflects. Opening compares the two: equal means trust
  the file, different means reconcile ids (after a crash: add what is missing from the catalog's
  BLOBs, remove what should be gone). The build therefore writes FAISS only once, at its end; a
  `kill -9` loses at most the batch being committed, and the next open repairs the cache: in memory for
  a reader (readers never write to the directory), saved by a writer.
- Flat, HNSW and PQ sit in an IndexIDMap2. IVF does not: in faiss 1.15, IndexIDMap2.remove_ids over an
  IVF leaves the remaining ids pointing at the wrong vectors (IVF renumbers nothing, IDMap2 compacts
  its id list), so IVF stores our ids itself, with a hashtable direct map for reconstruct.
- `auto` is exact Flat below 100k vectors, then PQ: 4-bit fast-scan codes, one sub-quantizer per 2
  dimensions, with the best k x 64 re-ranked exactly. It meets the latency goal (<= 10 ms p50 at 1M,
  recall@10 >= 0.95) on any data, i.i.d. random vectors included, where IVF and HNSW cannot beat a full
  scan; its scores are exact; it builds 1M vectors in 8-19 s. Like HNSW it cannot remove, so removed
  ids are tombstones until a rebuild. IVF (about sqrt(n) lists, removes in place) is 6x faster on data
  whose clusters its lists match, and HNSW builds at ~1,000 vectors/s on 2 cores: both are opt-in.
  See benchmarks/index_latency.py.
- Searches of fewer than 16 queries run FAISS on one OpenMP thread: waking a thread team on a busy
  small machine costs scheduler ticks (4-12 ms), far more than one query's work.
- `remove` is sticky: a removed edit stays removed when a later build sees its pair again. Pairs that
  vanish from a source, or whose files become unreadable, are tombstoned and come back when they
  reappear (reusing their vector by content hash).
"""
