-- The currencies amounts are kept in, with their minor units: BI formats each amount to its
-- currency's digits (a yen amount has none, a dinar three) instead of assuming two.
select
    currency_code,
    name as currency_name,
    cast(minor_units as {{ dbt.type_int() }}) as minor_units
from {{ ref('currencies') }}
