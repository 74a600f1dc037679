"""UI routes of the tracking pages (experiments, runs)."""

patterns: list = []
