"""Edit pairs on their way to vectors, shared by the index and `embed` (neither imports the other for them).

`loading.py` hashes, decodes and batches pairs for a forward (a DataLoader dataset and its collate);
`shards.py` is the embeddings-shard format: one parquet file of vectors per input shard, written by
`embed` (editsearch.scale) and read by `build-index --from-embeddings` (editsearch.index.embeddings).
"""
