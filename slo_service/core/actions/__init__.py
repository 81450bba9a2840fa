"""Response policies, pure: conditions → decisions → action runs (see policy.py, matching.py, guards.py, runs.py)."""
