"""Reverse ETL: push what the sync_* models say should exist into NetSuite and Salesforce."""
