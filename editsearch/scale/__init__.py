"""Scaling out: embed input shards into embeddings shards (locally, on Ray Data, or as array-job workers).

`jobs.py` plans the units of a job (input shards, their output names and signatures, results, report),
`embed.py` runs the job and its local engine, `ray_engine.py` the Ray Data engine. The shard format and
the pair loader are shared with the index (editsearch.pairs); an index is filled from the shards, with
no image forward, by `EditIndex.sync_embeddings` (index/embeddings.py). scale/ may use index/; index/
never imports scale/.
"""
