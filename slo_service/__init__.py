"""slo-service: SLOs, error budgets and burn rates for ML systems in production."""

__version__ = "0.1.0"
