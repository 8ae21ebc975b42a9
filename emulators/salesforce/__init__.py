"""Salesforce REST API emulator (OAuth client credentials, SOQL query/queryAll, sObject rows and
upserts, sObject Collections, Bulk API 2.0 ingest, API limits, fault hooks). See
docs/salesforce-emulator.md."""
from emulators.salesforce.app import SalesforceApp
from emulators.salesforce.store import SeedError

__all__ = ["SalesforceApp", "SeedError"]
