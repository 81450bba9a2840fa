"""The /metrics side: a prometheus-client custom collector over the runtime's latest state."""
