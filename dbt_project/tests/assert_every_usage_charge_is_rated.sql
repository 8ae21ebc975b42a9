-- Every usage segment gets an amount: a line whose terms cannot price its usage (no unit price,
-- no tier holding the quantity) is named here rather than billed as zero.
select
    charge_key,
    line_key,
    price_model,
    rating_error
from {{ ref('int_usage_charges') }}
where amount is null
