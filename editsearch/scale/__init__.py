"""Scaling out: embed input shards into embeddings shards (locally, on Ray Data, or as array-job workers).

`shards.py` is the embeddings shard format (one parquet file per input shard, model fingerprint in its
metadata), `jobs.py` the units of a job (shards planned, results, report),
`embed.py` the job and its local engine, `ray_engine.py` the Ray Data engine. An index is
filled from the shards, with no image forward, by `EditIndex.sync_embeddings` (index/embeddings.py).
"""
