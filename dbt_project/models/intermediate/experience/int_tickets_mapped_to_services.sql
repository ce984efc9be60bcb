{#- Stored, not a view: a dozen models read the tickets' services, and the mapping rules (five
    fields of every ticket against every rule) are matched once per build instead of once per
    reader. A daily build maps only the tickets its extract window touched (macros/
    touched_periods.sql); new rules or channel mappings change the reference digest, and every
    ticket is mapped again (orchestration/build_state.py). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_periods',
        meta={'period_column': 'ticket_number', 'touched_by': 'tickets'},
        on_schema_change='fail',
    )
}}

with

tickets as (

    select * from {{ ref('stg_itsm__tickets') }}
    where {{ in_touched_periods('ticket_number') }}

),

-- Which service a ticket belongs to is decided by rules: the business-service mapping first
-- (precedence 0), then the organisation's rules on the business service, assignment group,
-- category, subcategory or configuration item (service_mapping_rules, by precedence; a rule
-- with a precedence below 0 comes before the business-service mapping). A rule may name a
-- ticket type and its value may hold `*` wildcards; case and spacing do not matter.
rules as (

    select
        0 as precedence,
        'business_service' as field,
        cast(null as {{ dbt.type_string() }}) as ticket_type,
        business_service as rule_value,
        service_id
    from {{ ref('business_service_mapping') }}

    union all

    select
        precedence,
        lower(trim(field)) as field,
        nullif(lower(trim(ticket_type)), '') as ticket_type,
        value as rule_value,
        service_id
    from {{ ref('service_mapping_rules') }}

),

keyed_rules as (

    select
        precedence,
        field,
        ticket_type,
        rule_value,
        trim(service_id) as service_id,
        {{ mapping_key('rule_value') }} as rule_key,
        {{ dbt.position("'*'", 'rule_value') }} > 0 as is_wildcard
    from rules
    where nullif(trim(service_id), '') is not null

),

-- One row per ticket and field it has a value for.
ticket_fields as (

    {% for field in mapping_fields() -%}
    select
        ticket_number,
        ticket_type,
        '{{ field }}' as field,
        {{ mapping_key(field) }} as field_key
    from tickets
    where {{ mapping_key(field) }} is not null
    {% if not loop.last %}
    union all

    {% endif -%}
    {%- endfor %}

),

-- Exact values join on equality; the few wildcard rules are matched by pattern.
matches as (

    select
        ticket_fields.ticket_number,
        keyed_rules.precedence,
        keyed_rules.is_wildcard,
        keyed_rules.field,
        keyed_rules.rule_value,
        keyed_rules.service_id
    from ticket_fields
    inner join keyed_rules
        on ticket_fields.field = keyed_rules.field
        and ticket_fields.field_key = keyed_rules.rule_key
    where not keyed_rules.is_wildcard
        and (keyed_rules.ticket_type is null or keyed_rules.ticket_type = ticket_fields.ticket_type)

    union all

    select
        ticket_fields.ticket_number,
        keyed_rules.precedence,
        keyed_rules.is_wildcard,
        keyed_rules.field,
        keyed_rules.rule_value,
        keyed_rules.service_id
    from ticket_fields
    inner join keyed_rules
        on ticket_fields.field = keyed_rules.field
        and ticket_fields.field_key like {{ mapping_pattern('keyed_rules.rule_key') }} escape '!'
    where keyed_rules.is_wildcard
        and (keyed_rules.ticket_type is null or keyed_rules.ticket_type = ticket_fields.ticket_type)

),

-- The first matching rule by precedence; at equal precedence an exact value before a wildcard,
-- then the smaller service id (docs/sources.md: give each rule its own precedence).
first_matches as (

    select
        ticket_number,
        service_id,
        {{ dbt.concat(['field', "' = '", 'trim(rule_value)']) }} as mapping_rule
    from (
        select
            *,
            row_number() over (
                partition by ticket_number
                order by precedence, is_wildcard, service_id, field, rule_value
            ) as match_rank
        from matches
    ) as ranked
    where match_rank = 1

),

channel_mapping as (

    select * from {{ ref('channel_mapping') }}

),

-- A ticket that ended without being resolved: an incident Canceled (state 8), a request item
-- Closed Incomplete (4) or Closed Skipped (7). Request items use the task states, where 7 is
-- skipped; an incident's 7 is Closed, after its resolution (docs/sources.md, state codes).
ended as (

    select
        *,
        coalesce(
            (ticket_table = 'incident' and trim(state) = '8')
            or (ticket_table = 'sc_req_item' and trim(state) in ('4', '7')),
            false
        ) as is_canceled
    from tickets

),

mapped as (

    select
        ended.ticket_id,
        ended.ticket_number,
        ended.ticket_type,
        -- Tickets no rule maps are kept and counted under `unmapped`, never dropped.
        coalesce(first_matches.service_id, 'unmapped') as service_id,
        first_matches.mapping_rule,
        ended.business_service,
        ended.assignment_group,
        ended.opened_at,
        -- DESIGN §4: resolved_at, or closed_at where the table has none (sc_req_item); a
        -- canceled ticket is not resolved, whatever its times say.
        case
            when ended.is_canceled then null
            when ended.ticket_table = 'sc_req_item'
                then coalesce(ended.resolved_at, ended.closed_at)
            else ended.resolved_at
        end as resolved_at,
        ended.is_canceled,
        -- Counted in the period it was closed (its last update where an export lacks closed_at).
        case when ended.is_canceled then coalesce(ended.closed_at, ended.updated_at) end
            as canceled_at,
        ended.priority,
        ended.contact_type,
        coalesce(channel_mapping.channel, 'other') as channel,
        coalesce(ended.made_sla, false) as made_sla,
        coalesce(ended.reopen_count, 0) > 0 as is_reopened,
        coalesce(ended.reassignment_count, 0) as reassignment_count,
        ended.category,
        ended.subcategory,
        ended.cmdb_ci,
        ended.caller_key
    from ended
    left join first_matches
        on ended.ticket_number = first_matches.ticket_number
    left join channel_mapping
        on lower(trim(ended.contact_type)) = lower(trim(channel_mapping.contact_type))

),

with_durations as (

    select
        *,
        cast({{ dbt.datediff('opened_at', 'resolved_at', 'second') }} as double) / 3600 as resolution_hours
    from mapped

)

select * from with_durations
