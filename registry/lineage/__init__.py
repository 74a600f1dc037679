"""Lineage: where a model version came from (tables, datasets, runs, logged models, source versions) and where
it went (copies, aliases), computed from the tracking and registry tables, filtered by visibility, drawn as SVG."""
