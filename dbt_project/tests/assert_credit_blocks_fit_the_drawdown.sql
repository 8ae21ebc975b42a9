-- int_credit_drawdown draws at most `max_credit_blocks_per_contract` blocks per contract: a
-- contract with more would leave its later blocks undrawn, so it fails the build instead.
select
    contract_id,
    max(drawdown_rank) as credit_blocks
from {{ ref('int_prepaid_credit_blocks') }}
group by contract_id
having max(drawdown_rank) > {{ var('max_credit_blocks_per_contract') }}
