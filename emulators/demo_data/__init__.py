"""Deterministic demo data for meterledger: Salesforce and NetSuite seeds plus usage event
files with injected defects. Entry point: `generate` (see generator.py)."""

from .generator import generate

__all__ = ["generate"]
