{{
    config(
        materialized='incremental',
        unique_key='ticket_number',
        incremental_strategy='replace_extracts',
        partition_by=replaced_partitions('extract_date'),
        meta={'extract_date_columns': 'extract_date'},
        on_schema_change='fail',
    )
}}

with

-- A ticket appears again in later extracts when it changes: the latest sys_updated_on wins.
-- Event logs hold several updates of a ticket within one minute: among them the highest
-- sys_mod_count wins where the export has it, else the later one in the extract (file, line).
-- Keyed by number, which every format carries (list exports may lack sys_id).
-- In an incremental run, the keys of the run's extract dates and those this model took from
-- them, chosen among all their versions.
latest as (

    {{ latest_versions(
        source('raw', 'itsm_tickets'),
        'number',
        'sys_updated_on desc, sys_mod_count desc nulls last, _extract_date desc, '
        ~ '_source_file desc, _source_line desc',
        this_keys='ticket_number',
    ) }}

),

renamed as (

    select
        sys_id as ticket_id,
        number as ticket_number,
        lower(sys_class_name) as ticket_table,
        case lower(sys_class_name)
            when 'incident' then 'incident'
            when 'sc_req_item' then 'request'
        end as ticket_type,
        opened_at,
        resolved_at,
        closed_at,
        sys_updated_on as updated_at,
        state,
        cast(priority as integer) as priority,
        contact_type,
        business_service,
        assignment_group,
        {{ pseudonymize('caller_id') }} as caller_key,
        location,
        category,
        subcategory,
        cmdb_ci,
        cast(reassignment_count as integer) as reassignment_count,
        cast(reopen_count as integer) as reopen_count,
        made_sla,
        _extract_date as extract_date
    from latest

)

select * from renamed
