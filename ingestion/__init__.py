"""dlt sources, one package per source system; each loads into the raw_<system> dataset."""
