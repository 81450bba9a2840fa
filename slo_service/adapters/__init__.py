"""Adapters: implementations of the core ports (SQL history, ...)."""
