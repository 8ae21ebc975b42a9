-- Prepaid credit blocks month by month: opening, granted, drawn, expired, closing.
select * from read_parquet('${published_dir}/current/fct_credit_block_balances.parquet')
