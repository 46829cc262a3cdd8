"""Evaluation: retrieval metrics, held-out sets and baselines for EditCLIP, and edit-transfer tasks for IP2P."""
