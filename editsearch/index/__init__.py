"""The edit index: a SQLite catalog (the truth) plus a FAISS cache (derived, always rebuildable).

One index is one directory:

    catalog.db      edits, vectors (float32 BLOBs), models, errors, settings, schema_version, edits_fts
    vectors.faiss   FAISS index of the live vectors, keyed by the catalog's `vectors.id`
    vectors.json    what that file holds: type, dim, count, model fingerprint, catalog generation
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
  `kill -9` loses at most the batch being committed, and the next open repairs the cache.
- Flat and HNSW sit in an IndexIDMap2. IVF does not: in faiss 1.15, IndexIDMap2.remove_ids over an
  IVF leaves the remaining ids pointing at the wrong vectors (IVF renumbers nothing, IDMap2 compacts
  its id list), so IVF stores our ids itself, with a hashtable direct map for reconstruct.
- `auto` is exact Flat below 100k vectors, then IVF with about sqrt(n) lists: it removes in place,
  builds in seconds, and meets the latency goal; HNSW builds at ~1,000 vectors/s on 2 cores and needs
  tombstones and rebuilds, so it is opt-in. See benchmarks/index_latency.py.
- Searches of fewer than 16 queries run FAISS on one OpenMP thread: waking a thread team on a busy
  small machine costs scheduler ticks (4-12 ms), far more than one query's work.
- `remove` is sticky: a removed edit stays removed when a later build sees its pair again. Pairs that
  vanish from a source, or whose files become unreadable, are tombstoned and come back when they
  reappear (reusing their vector by content hash).
"""
