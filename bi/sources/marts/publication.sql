-- When the marts on these pages were published, and by which run.
select table_name, row_count, published_at, run_id
from read_parquet('${published_dir}/current/_publication.parquet')
