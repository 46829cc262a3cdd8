"""Checking an index: the catalog's integrity and checksums, every live vector searchable, and that the saved FAISS
caches hold exactly what the catalog says; repairs nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from editsearch.encoder.identity import ModelRow
from editsearch.index.cache import Caches
from editsearch.index.catalog import corruption_as_error, damaged
from editsearch.index.errors import CatalogCorruptError
from editsearch.index.instruction_index import INSTRUCTION_CACHE, instruction_ids
from editsearch.index.sidecar import PAIR_CACHE, VectorMeta, cache_problem
from editsearch.index.tuning import measure
from editsearch.index.unit_vectors import blob_problems
from editsearch.index.vectors import VectorIndex


@dataclass
class VerifyReport:
    """The result of `EditIndex.verify`: ok, what is wrong, and the numbers behind it."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    build_running: bool = False  # another process held the writer lock: the FAISS cache was not compared


def verify(caches: Caches) -> VerifyReport:
    """Check the catalog (full integrity check, pair and instruction vector checksums, every live vector a finite
    unit vector of the index's dimension) and that the saved FAISS file holds exactly the live vectors that can be
    searched; repairs nothing. While another process builds, the catalog is checked (a consistent snapshot) but
    the FAISS cache, which the build is rewriting, is not."""
    report = VerifyReport(ok=True)
    try:
        with corruption_as_error(caches.catalog.path):
            info = _verify_catalog(caches, report)
            unusable = _verify_vector_values(caches, info, report) if info is not None else np.zeros(0, np.int64)
    except CatalogCorruptError as e:
        report.problems.append(str(e))
        return finish(report)
    if info is None:
        report.notes.append("empty index: no model bound yet")
        return finish(report)
    holder = caches.lock.held_elsewhere()
    if holder is not None:
        report.build_running = True
        report.notes.append(f"a build is running{holder}: the FAISS cache was not compared; verify again after it")
        return finish(report)
    fp = info["fingerprint"]
    try:
        vi, meta = VectorIndex.load(caches.directory, caches.search_params(), full_check=True)
    except (OSError, ValueError, TypeError) as e:
        report.problems.append(f"FAISS cache missing or unreadable ({e}); run `editsearch rebuild`")
        return finish(report)
    every = np.asarray(caches.catalog.live_vector_ids(fp, any_size=True), np.int64)
    live = np.setdiff1d(every, unusable)  # reported above; FAISS need not hold what cannot be searched
    have = vi.ids()
    missing, extra = np.setdiff1d(live, have), np.setdiff1d(have, every)
    report.numbers.update(faiss_vectors=int(vi.ntotal), faiss_type=vi.kind, missing=len(missing), extra=len(extra))
    if len(missing):
        report.problems.append(f"FAISS lacks {len(missing)} live vectors; run `editsearch rebuild`")
    if len(extra) and vi.supports_remove:
        report.problems.append(f"FAISS holds {len(extra)} vectors of removed edits; run `editsearch rebuild`")
    elif len(extra):
        report.notes.append(f"{len(extra)} {vi.kind.upper()} tombstones (filtered at search time)")
    if meta.model != fp:
        report.problems.append("FAISS cache was built for another model; run `editsearch rebuild`")
    if meta.ntotal != vi.ntotal:
        report.problems.append("FAISS file and its sidecar disagree; run `editsearch rebuild`")
    report.problems.extend(_spot_check(caches, vi, live))
    _verify_tuning(caches, vi, live, report)
    _verify_instructions(caches, info, report)
    return finish(report)


def _verify_tuning(caches: Caches, vi: VectorIndex, live: np.ndarray, report: VerifyReport) -> None:
    """Measure recall@10 again with the settings a query uses; a drop below the target is a note.

    Not a problem: verify fails (exit 4) when the cache disagrees with the catalog, i.e. answers are wrong or
    lost. Recall that drifts as edits are added after the tuning is a quality matter of a consistent index,
    and `rebuild` (which tunes again) is the remedy either way; failing healthy indexes would make verify
    useless as a damage check.
    """
    tuning = vi.tuning
    if tuning is None:
        if vi.kind != "flat":
            report.notes.append(
                "the FAISS cache records no tuned search settings (saved by an older editsearch); "
                "`editsearch rebuild` tunes it"
            )
        return
    recall = measure(vi, live, caches.load_array, caches.live_chunks())
    report.numbers.update(recall_at_10=round(recall, 4), recall_at_build=tuning.recall, target_recall=tuning.target)
    if recall < tuning.target:
        why = f" ({tuning.note})" if tuning.note and not tuning.reached else ""
        report.notes.append(
            f"recall@10 is {recall:.3f} with the settings {vi.kind} searches with, below the target "
            f"{tuning.target:g} (measured {tuning.recall:.3f} at build){why}; `editsearch rebuild` tunes it again"
        )


def _verify_instructions(caches: Caches, info: ModelRow, report: VerifyReport) -> None:
    """The instruction FAISS cache holds exactly the catalog's instruction vectors of the index's model."""
    fp, dim = info["fingerprint"], info["dim"]
    want = instruction_ids(caches.catalog, fp, dim)
    if not len(want):
        return
    try:
        ivi, meta = VectorIndex.load(caches.directory, None, INSTRUCTION_CACHE, full_check=True)
    except (OSError, ValueError, TypeError) as e:
        report.problems.append(f"instruction FAISS cache missing or unreadable ({e}); run `editsearch rebuild`")
        return
    have = ivi.ids()
    missing, extra = np.setdiff1d(want, have), np.setdiff1d(have, want)
    report.numbers.update(instruction_vectors=len(want), instruction_faiss_vectors=int(ivi.ntotal))
    if meta.model != fp:
        report.problems.append("instruction FAISS cache was built for another model; run `editsearch rebuild`")
    elif len(missing) or len(extra):
        report.problems.append(
            f"instruction FAISS cache lacks {len(missing)} and holds {len(extra)} unknown instruction vectors; "
            "run `editsearch rebuild`"
        )


def _verify_catalog(caches: Caches, report: VerifyReport) -> ModelRow | None:
    """The catalog half of verify: SQLite's integrity, foreign keys, full-text rows, the sizes and checksums
    of the pair and instruction vectors."""
    db = caches.catalog.db
    integrity = [r[0] for r in db.execute("PRAGMA integrity_check(20)")]
    if integrity != ["ok"]:
        report.problems.append(damaged(caches.catalog.path, "; ".join(integrity)))
        return None
    if db.execute("PRAGMA foreign_key_check").fetchall():
        report.problems.append("vectors rows point to missing edits or models (foreign key check)")
    indexed = db.execute("SELECT count(*) FROM edits_fts_docsize").fetchone()[0]
    rows = db.execute("SELECT count(*) FROM edits").fetchone()[0]
    if indexed != rows:
        report.problems.append(f"the full-text index holds {indexed} rows, the edits table {rows}")
    info = caches.model_info
    if info is None:
        return None
    counts = caches.catalog.counts(info["fingerprint"])
    report.numbers.update(edits=counts["edits"], vectors=counts["vectors"])
    if counts["edits"] != counts["vectors"]:
        report.problems.append(f"{counts['edits'] - counts['vectors']} live edits have no vector")
    dim = info["dim"]
    bad = db.execute(  # the model's own: a stopped `rebuild --model` leaves another model's, of its size
        "SELECT count(*) FROM instruction_vectors WHERE model = ? AND length(vector) != ?",
        [info["fingerprint"], 4 * dim],
    ).fetchone()[0]
    if bad:
        report.problems.append(f"{bad} instruction vectors are not {dim} float32 values")
    changed = caches.catalog.damaged_vectors()
    if changed:
        edits = ", ".join(str(e) for _, e in changed[:10]) + (", ..." if len(changed) > 10 else "")
        report.problems.append(
            damaged(caches.catalog.path, f"{len(changed)} stored vectors do not match their checksum: edits {edits}")
        )
    texts = caches.catalog.damaged_instruction_vectors()
    if texts:
        named = ", ".join(repr(t[:40] + ("..." if len(t) > 40 else "")) for _, t in texts[:5])  # repr escapes
        named += ", ..." if len(texts) > 5 else ""
        report.problems.append(
            damaged(
                caches.catalog.path,
                f"{len(texts)} stored instruction vectors do not match their checksum: instructions {named}",
            )
        )
    return info


def _verify_vector_values(caches: Caches, info: ModelRow, report: VerifyReport) -> np.ndarray:
    """Name the live edits whose stored vector is not `dim` values of a finite unit vector; their vector ids."""
    bad: dict[int, str] = {}
    for chunk in caches.catalog.iter_live_vectors(info["fingerprint"], any_size=True):
        bad.update(blob_problems(chunk, info["dim"]))
    if bad:
        rows = caches.catalog.rows_for_vectors(sorted(bad)[:10])
        named = "; ".join(f"edit {rows[v]['id']}: {bad[v]}" for v in sorted(bad)[:10] if v in rows)
        report.problems.append(
            f"{len(bad)} stored vectors cannot be searched ({named}{'; ...' if len(bad) > 10 else ''}); remove "
            "those edits (`editsearch remove ID...`; later builds leave them out) and run `editsearch rebuild`, "
            "or build the index again from its sources (`editsearch build-index SOURCE... --index NEW_DIR`)"
        )
    return np.asarray(sorted(bad), np.int64)


def _spot_check(caches: Caches, vi: VectorIndex, live: np.ndarray, n: int = 200) -> list[str]:
    """Compare up to n vectors FAISS holds with the catalog's."""
    sample = live[np.random.default_rng(0).permutation(len(live))[:n]] if len(live) else live
    sample = np.intersect1d(sample, vi.ids())
    if not len(sample):
        return []
    ids, mat = caches.load_vectors(sample.tolist())
    stored = np.stack([vi.reconstruct(int(i)) for i in ids])
    if vi.lossy:  # a quantized copy: the same direction, not the same floats
        wrong = int(np.sum(np.einsum("ij,ij->i", stored, mat) < 0.99 * np.linalg.norm(stored, axis=1)))
    else:
        wrong = int(np.sum(~np.isclose(stored, mat, atol=1e-6).all(axis=1)))
    return [f"{wrong} of {len(ids)} sampled FAISS vectors differ from the catalog's"] if wrong else []


def finish(report: VerifyReport) -> VerifyReport:
    """The report, ok when it names no problem."""
    report.ok = not report.problems
    return report


def check_caches(directory: str | Path) -> None:
    """Check every chunk of both saved FAISS caches now (a server at start): a damaged one is then refused by every
    later open of it in this process, which rebuilds from the catalog instead; an intact one is not read again."""
    for name in (PAIR_CACHE, INSTRUCTION_CACHE):
        try:
            cache_problem(directory, VectorMeta.read(directory, name), name)
        except (OSError, ValueError, TypeError):  # missing or not a sidecar: the load that follows says so
            continue
