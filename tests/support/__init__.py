"""Test helpers shared across test modules (real processes, ports, tool lookup)."""
