"""The built-in simulated model server used by the demo and tests."""
