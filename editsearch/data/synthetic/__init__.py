"""The synthetic edit generator: edit families on procedural scenes and shipped photos, phrased per split."""
