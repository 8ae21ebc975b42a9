"""ERP state from NetSuite through SuiteQL."""
from ingestion.netsuite.source import netsuite_source

__all__ = ["netsuite_source"]
