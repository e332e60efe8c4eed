"""Real-process fixture (filled in by its owner)."""
