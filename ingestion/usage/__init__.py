"""Usage events from metering files (JSON Lines and Parquet) and each source's watermark."""
from ingestion.usage.source import USAGE_APPEND_TABLES, usage_source

__all__ = ["USAGE_APPEND_TABLES", "usage_source"]
