"""Dagster wiring: assets, resources and the Definitions that assemble them."""
