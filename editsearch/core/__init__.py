"""The leaves every stage shares: errors, files, JSONL, limits, random streams, weight sources, lazy exports."""
