-- The terms of each contract line through time: version 1 as sold, then one more version from
-- the effective date of each activated amendment (scenario-format.md, "Amendments and
-- proration"). An amendment sets only the fields it names; the others carry over from the
-- version before. A cancellation ends the line the day before it takes effect. Pending
-- amendments change nothing yet.
with lines as (
    select
        lines.contract_line_id,
        lines.line_key,
        lines.contract_id,
        lines.line_kind,
        lines.amount,
        lines.included_quantity,
        lines.unit_price,
        lines.price_model,
        contracts.start_date as contract_start_date,
        contracts.end_date as contract_end_date
    from {{ ref('stg_salesforce__contract_lines') }} as lines
    inner join {{ ref('stg_salesforce__contracts') }} as contracts
        on lines.contract_id = contracts.contract_id
    -- A draft contract is not sold yet: its lines have no terms in force.
    where not lines.is_deleted
        and not contracts.is_deleted
        and contracts.contract_status = 'Activated'
),

amendment_tiers as (
    select distinct amendment_id
    from {{ ref('stg_salesforce__price_tiers') }}
    where amendment_id is not null
        and not is_deleted
),

-- Amendments inside the line's term: one taking effect on or before the start would leave
-- nothing of version 1, one after the end changes nothing
-- (assert_amendments_fall_inside_their_contract reports both).
amendments as (
    select
        amendments.contract_line_id,
        amendments.amendment_id,
        amendments.effective_date,
        amendments.is_cancellation,
        amendments.new_amount,
        amendments.new_included_quantity,
        amendments.new_unit_price,
        amendments.new_price_model,
        amendment_tiers.amendment_id is not null as has_new_tiers
    from {{ ref('stg_salesforce__amendments') }} as amendments
    inner join lines
        on amendments.contract_line_id = lines.contract_line_id
    left join amendment_tiers
        on amendments.amendment_id = amendment_tiers.amendment_id
    where amendments.amendment_status = 'Activated'
        and not amendments.is_deleted
        and amendments.effective_date > lines.contract_start_date
        and amendments.effective_date <= lines.contract_end_date
),

changes as (
    select
        contract_line_id,
        cast(null as {{ dbt.type_string() }}) as amendment_id,
        contract_start_date as effective_from,
        false as is_cancellation,
        cast(null as {{ decimal_type() }}) as new_amount,
        cast(null as {{ decimal_type() }}) as new_included_quantity,
        cast(null as {{ decimal_type() }}) as new_unit_price,
        cast(null as {{ dbt.type_string() }}) as new_price_model,
        false as has_new_tiers
    from lines

    union all

    select
        contract_line_id,
        amendment_id,
        effective_date as effective_from,
        is_cancellation,
        new_amount,
        new_included_quantity,
        new_unit_price,
        new_price_model,
        has_new_tiers
    from amendments
),

numbered as (
    select
        *,
        row_number() over (partition by contract_line_id order by effective_from, amendment_id) as change_number,
        lead(effective_from) over (partition by contract_line_id order by effective_from, amendment_id)
            as next_change_from,
        min(case when is_cancellation then effective_from end) over (partition by contract_line_id)
            as cancelled_from
    from changes
),

-- Carry each field forward from the last change that set it: a running count of the changes
-- that set it numbers the stretches in which its value holds (portable: no IGNORE NULLS).
stretched as (
    select
        *,
        count(new_amount) over (partition by contract_line_id order by change_number rows unbounded preceding)
            as amount_stretch,
        count(new_included_quantity) over (
            partition by contract_line_id order by change_number rows unbounded preceding
        ) as included_quantity_stretch,
        count(new_unit_price) over (partition by contract_line_id order by change_number rows unbounded preceding)
            as unit_price_stretch,
        count(new_price_model) over (partition by contract_line_id order by change_number rows unbounded preceding)
            as price_model_stretch,
        count(case when has_new_tiers then amendment_id end) over (
            partition by contract_line_id order by change_number rows unbounded preceding
        ) as tiers_stretch
    from numbered
    where not is_cancellation
        and (cancelled_from is null or effective_from < cancelled_from)
),

carried as (
    select
        *,
        max(new_amount) over (partition by contract_line_id, amount_stretch) as carried_amount,
        max(new_included_quantity) over (partition by contract_line_id, included_quantity_stretch)
            as carried_included_quantity,
        max(new_unit_price) over (partition by contract_line_id, unit_price_stretch) as carried_unit_price,
        max(new_price_model) over (partition by contract_line_id, price_model_stretch) as carried_price_model,
        max(case when has_new_tiers then amendment_id end) over (partition by contract_line_id, tiers_stretch)
            as tiers_amendment_id
    from stretched
)

select
    {{ dbt.concat(["lines.line_key", "':v'", "cast(carried.change_number as " ~ dbt.type_string() ~ ")"]) }}
        as line_version_key,
    carried.contract_line_id,
    lines.line_key,
    lines.contract_id,
    lines.line_kind,
    carried.change_number as version_number,
    carried.amendment_id,
    carried.effective_from,
    least(
        coalesce(cast({{ dbt.dateadd('day', -1, 'carried.next_change_from') }} as date), lines.contract_end_date),
        lines.contract_end_date
    ) as effective_to,
    coalesce(carried.carried_amount, lines.amount) as amount,
    coalesce(carried.carried_included_quantity, lines.included_quantity) as included_quantity,
    coalesce(carried.carried_unit_price, lines.unit_price) as unit_price,
    coalesce(carried.carried_price_model, lines.price_model) as price_model,
    carried.tiers_amendment_id
from carried
inner join lines
    on carried.contract_line_id = lines.contract_line_id
