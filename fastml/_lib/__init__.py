"""Compiled bindings: one extension per kernel family (see setup.py FAMILIES)."""
