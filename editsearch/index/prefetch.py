"""Ask the kernel for the re-rank rows of the IVF lists a query will probe, before FAISS faults them in one by one.

A mapped `ivfpq-sq8` store lies on disk one IVF list after another (VectorIndex.order_store_by_list). When a
list is not in the page cache, each fault on it reads 128 KB around one page and waits, so a 2.4 MB list at
10M × 768 comes in some twenty reads one after another. `posix_fadvise(WILLNEED)` over the byte ranges of a
query's probed lists starts all of them at once, and the faults then find pages already on their way.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any

import numpy as np

K_FACTOR_BYTES = 4  # IndexRefine writes its k_factor (a float) after its re-rank store
VECTOR_LENGTH_BYTES = 8  # FAISS writes a vector's length (uint64) before its items


class ListPrefetch:
    """The byte range of each IVF list's rows in a saved `ivfpq-sq8` file, and the coarse quantizer to pick lists."""

    def __init__(self, path: Path, offset: int, code_size: int, ranges: np.ndarray, ivf: Any) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)  # closed with this object
        self.offset, self.code_size = offset, code_size
        self.ranges = ranges  # [nlist, 2]: first and last store row of each list; -1 where a list is not one run
        self.ivf = ivf

    @classmethod
    def of(cls, path: Path, index: Any) -> ListPrefetch | None:
        """The prefetch of a mapped IndexIDMap2(IndexRefine(IVF, SQ)) read from `path`, or None when the file's
        layout is not the one expected (checked against the mapped rows) or the system has no posix_fadvise."""
        import faiss

        if not hasattr(os, "posix_fadvise"):
            return None
        refine = faiss.downcast_index(index.index)
        ivf, store = faiss.downcast_index(refine.base_index), faiss.downcast_index(refine.refine_index)
        n, size = index.ntotal, store.code_size
        # the file ends with the store's rows, the k_factor and the id map (its length, then n int64 ids)
        offset = path.stat().st_size - (VECTOR_LENGTH_BYTES + 8 * n) - K_FACTOR_BYTES - n * size
        rows = faiss.rev_swig_ptr(store.codes.data(), store.codes.size()).reshape(n, size)
        with path.open("rb") as f:
            length = os.pread(f.fileno(), VECTOR_LENGTH_BYTES, offset - VECTOR_LENGTH_BYTES)
            first, last = os.pread(f.fileno(), size, offset), os.pread(f.fileno(), size, offset + (n - 1) * size)
        if int.from_bytes(length, "little") != n * size or first != rows[0].tobytes() or last != rows[-1].tobytes():
            return None
        lists = ivf.invlists
        ranges = np.full((lists.nlist, 2), -1, np.int64)
        for no in range(lists.nlist):
            count = lists.list_size(no)
            ids = faiss.rev_swig_ptr(lists.get_ids(no), count)
            if count and ids.max() - ids.min() + 1 == count:  # one run of rows (vectors added later are not)
                ranges[no] = ids.min(), ids.max()
        return cls(path, offset, size, ranges, ivf)

    def before(self, queries: np.ndarray) -> None:
        """Start reading the rows of the lists these queries will probe (returns at once)."""
        _, probed = self.ivf.quantizer.search(queries, self.ivf.nprobe)
        for lo, hi in self.ranges[np.unique(probed[probed >= 0])]:
            if lo >= 0:
                start = self.offset + int(lo) * self.code_size
                os.posix_fadvise(self.fd, start, (int(hi) - int(lo) + 1) * self.code_size, os.POSIX_FADV_WILLNEED)
