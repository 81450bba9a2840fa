"""Use cases: collect → store → evaluate, written against core ports, never against adapters."""
