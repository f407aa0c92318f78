"""Collectors: run commands on hosts through transports and fill a snapshot (docs/snapshot.md)."""
