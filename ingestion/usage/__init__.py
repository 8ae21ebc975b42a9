"""Usage events from metering files (JSON Lines and Parquet) and each source's watermark."""
from ingestion.usage.source import usage_source

__all__ = ["usage_source"]
