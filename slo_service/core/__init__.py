"""The pure domain: SLO model, windows, budget and burn-rate math. No I/O, no frameworks."""
