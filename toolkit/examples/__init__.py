"""Bundled example models (see docs/cli.md)."""
