-- The currencies the marts hold amounts in, with the Evidence format that shows an amount to its
-- currency's minor units (JPY none, USD and EUR two); other currencies get the code as suffix.
select
    currency_code,
    currency_name,
    minor_units,
    case
        when lower(currency_code) in ('usd', 'aud', 'brl', 'cad', 'cny', 'eur', 'gbp', 'jpy', 'inr', 'krw', 'ngn', 'rub', 'sek')
            and minor_units in (0, 1, 2)
            then lower(currency_code) || cast(minor_units as varchar)
        else '#,##0' || case when minor_units > 0 then '.' || repeat('0', minor_units) else '' end
            || ' "' || currency_code || '"'
    end as amount_format
from read_parquet('${published_dir}/current/dim_currencies.parquet')
where currency_code in (select currency_code from read_parquet('${published_dir}/current/fct_revenue_schedule.parquet'))
order by currency_code = 'USD' desc, currency_code
