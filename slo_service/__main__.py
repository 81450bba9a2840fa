"""`python -m slo_service` runs the CLI."""

from slo_service.cli import main

main()
