"""CRM contracts from Salesforce through the REST query API."""
from ingestion.salesforce.source import salesforce_source

__all__ = ["salesforce_source"]
