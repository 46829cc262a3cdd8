"""Benchmarks of editsearch (scripts) and the held-out edit set (a package: `python -m benchmarks.heldout`)."""
