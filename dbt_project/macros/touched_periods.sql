{#- Published marts incremental by period (issue 37).

    A daily run changes few periods: the weeks and months of the tickets, answers and
    device-days its extract dates delivered, and every period of an employee whose department
    changed. The period marts (meta `touched_by`) rebuild only those periods, with the
    replace_periods strategy: the periods' rows go, the run's rows for them come in.

    Which periods a run touches needs the rows **before** the run too: a day delivered again
    without a ticket's latest version makes the ticket fall back to an older version, resolved
    in another week, and after the run nothing of the day's extract points at the week the
    ticket left. So at the start of every build (on-run-start) `remember_touched_rows` keeps,
    in the schema `run_state`, the keys the run's extract window touches (delivered now, or
    taken from the window's extracts before) with the dates they counted in before the run;
    each period mart adds the dates the same keys count in after it (touched_periods).
    Recomputing a period that did not change gives the same rows, so every set here may be a
    superset; none may miss a period.

    A build rebuilds every period of a mart (rebuilds_every_period) on a full refresh, without
    an extract window, when XMO_REBUILD_MARTS is set (orchestration/assets/dbt.py: a build that
    does not take in every incremental model at once), and when the run's record is missing. -#}

{% macro touched_relation(name) -%}
    {{ return(api.Relation.create(
        database=target.database if target.type != 'spark' else none,
        schema='run_state',
        identifier=name,
    )) }}
{%- endmacro %}

{#- A model's or a raw source's relation, looked up in the graph: a hook may not ref(). -#}
{% macro graph_relation(unique_id) -%}
    {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
    {{ return(api.Relation.create(
        database=node.database, schema=node.schema, identifier=node.alias or node.identifier
    )) }}
{%- endmacro %}

{% macro create_table_as_select(relation, sql) -%}
    {%- do run_statement('drop table if exists ' ~ relation) -%}
    {%- do run_statement(
        'create table ' ~ relation ~ (' using parquet' if target.type == 'spark' else '')
        ~ ' as ' ~ sql
    ) -%}
{%- endmacro %}

{#- on-run-start: the run's record of touched keys, or none (every period mart then rebuilds
    every period, see rebuilds_every_period). Always drops the last run's record first. -#}
{% macro remember_touched_rows() -%}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- do adapter.create_schema(touched_relation('run')) -%}
    {%- for name in ['run', 'tickets', 'responses', 'device_days', 'employees'] -%}
        {%- do run_statement('drop table if exists ' ~ touched_relation(name)) -%}
    {%- endfor -%}
    {%- set window = extract_window() -%}
    {%- set upstream = {
        'tickets': graph_relation('model.xmo.stg_itsm__tickets'),
        'responses': graph_relation('model.xmo.stg_survey__responses'),
        'mapped': graph_relation('model.xmo.int_tickets_mapped_to_services'),
        'joined': graph_relation('model.xmo.int_survey_responses_joined_to_tickets'),
        'device_days': graph_relation('model.xmo.int_device_days_scored'),
        'employees': graph_relation('model.xmo.stg_directory__employees'),
    } -%}
    {%- set raw = {} -%}
    {%- for table in ['itsm_tickets', 'survey_responses', 'device_snapshots', 'directory_employees'] -%}
        {%- do raw.update({table: graph_relation('source.xmo.raw.' ~ table)}) -%}
    {%- endfor -%}
    {%- set built = namespace(all=true) -%}
    {%- for relation in upstream.values() if load_relation(relation) is none -%}
        {%- set built.all = false -%}
    {%- endfor -%}
    {%- if not window or flags.FULL_REFRESH or not built.all -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set in_window -%}
        between cast('{{ window[0] }}' as date) and cast('{{ window[1] }}' as date)
    {%- endset -%}

    {#- Tickets delivered in the window or taken from its extracts, and every ticket an answer
        touched the same way points at in any of its delivered versions (an answer moves its
        ticket's response rate and latest answer; a version re-sent, or fallen back to, may
        point at another ticket); with where each counted before the run. -#}
    {%- set tickets -%}
        with changed_tickets as (
            select number as ticket_number from {{ raw.itsm_tickets }}
            where _extract_date {{ in_window }}
            union
            select ticket_number from {{ upstream.tickets }}
            where extract_date {{ in_window }}
        ),
        changed_responses as (
            select response_id from {{ raw.survey_responses }}
            where _extract_date {{ in_window }}
            union
            select response_id from {{ upstream.responses }}
            where extract_date {{ in_window }}
        ),
        touched as (
            select ticket_number from changed_tickets
            union
            select versions.ticket_number
            from {{ raw.survey_responses }} as versions
            inner join changed_responses
                on versions.response_id = changed_responses.response_id
        )
        select
            touched.ticket_number,
            before.caller_key,
            before.opened_at,
            before.resolved_at,
            before.canceled_at
        from touched
        left join {{ upstream.mapped }} as before
            on touched.ticket_number = before.ticket_number
        -- (On Spark a NULL in the list would keep no row of fct_ticket_experience.)
        where touched.ticket_number is not null
    {%- endset -%}
    {%- do create_table_as_select(touched_relation('tickets'), tickets) -%}

    {#- Answers delivered in the window or taken from its extracts, and the answers to the
        tickets delivered in the window (their service and channel come from the ticket). -#}
    {%- set responses -%}
        with touched as (
            select response_id from {{ raw.survey_responses }}
            where _extract_date {{ in_window }}
            union
            select response_id from {{ upstream.responses }}
            where extract_date {{ in_window }}
            union
            select answers.response_id
            from {{ upstream.responses }} as answers
            inner join (
                select number as ticket_number from {{ raw.itsm_tickets }}
                where _extract_date {{ in_window }}
                union
                select ticket_number from {{ upstream.tickets }}
                where extract_date {{ in_window }}
            ) as changed_tickets
                on answers.ticket_number = changed_tickets.ticket_number
        )
        select
            touched.response_id,
            before.survey_type,
            before.responded_at,
            before.respondent_key
        from touched
        left join {{ upstream.joined }} as before
            on touched.response_id = before.response_id
    {%- endset -%}
    {%- do create_table_as_select(touched_relation('responses'), responses) -%}

    {#- A device-day's date is part of its key: the days delivered in the window and the days
        the stored history took from the window's extracts. -#}
    {%- set device_days -%}
        select cast(snapshot_date as date) as snapshot_date
        from {{ raw.device_snapshots }}
        where _extract_date {{ in_window }}
        union
        select snapshot_date from {{ upstream.device_days }}
        where extract_date {{ in_window }}
    {%- endset -%}
    {%- do create_table_as_select(touched_relation('device_days'), device_days) -%}

    {#- Employees whose department may change: listed in the window with another department
        than the one stored (or not stored yet), and those whose stored row came from the
        window's snapshots (delivered again, they may fall back or leave). -#}
    {%- set employees -%}
        select delivered.employee_key
        from (
            select distinct {{ pseudonymize('employee_id') }} as employee_key, department
            from {{ raw.directory_employees }}
            where _extract_date {{ in_window }}
        ) as delivered
        left join {{ upstream.employees }} as stored
            on delivered.employee_key = stored.employee_key
        where stored.employee_key is null
            or coalesce(stored.department, '') <> coalesce(delivered.department, '')
        union
        select employee_key from {{ upstream.employees }}
        where snapshot_date {{ in_window }}
    {%- endset -%}
    {%- do create_table_as_select(touched_relation('employees'), employees) -%}

    {#- Last: the record is whole, and whose it is. -#}
    {%- do create_table_as_select(
        touched_relation('run'), "select '" ~ invocation_id ~ "' as invocation_id"
    ) -%}
    {{ return('select 1') }}
{%- endmacro %}

{#- True when this build of the model rebuilds every period (see the header). -#}
{% macro rebuilds_every_period() -%}
    {#- A unit test checks the model's computation of every period (it has no `this`). -#}
    {%- if not execute or model.resource_type == 'unit_test' or this is none -%}
        {{ return(true) }}
    {%- endif -%}
    {%- if not is_incremental() or not extract_window() or env_var('XMO_REBUILD_MARTS', '') -%}
        {{ return(true) }}
    {%- endif -%}
    {%- if load_relation(touched_relation('run')) is none -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set recorded = run_query('select invocation_id from ' ~ touched_relation('run')) -%}
    {{ return(recorded.columns[0].values() | list != [invocation_id]) }}
{%- endmacro %}

{#- The touched periods of a mart, one column `period`: the dates its rows count in, before the
    run (the record) and after it (the models this run rebuilt), truncated to `grain`.
    `kind` says which dates a mart's rows count in:
    - experience: tickets by resolved and canceled date, ticket answers by response date;
    - proactive: proactive answers by response date;
    - journey: employee months (device-days, tickets by opened date, ticket answers by response
      date, and every month of an employee whose department changed);
    - device: device weeks (device-days, and every week of an employee whose department changed);
    - tickets: not periods but the touched tickets' numbers (fct_ticket_experience). -#}
{% macro touched_periods(kind, grain) -%}
    {%- set tickets, responses = touched_relation('tickets'), touched_relation('responses') -%}
    {#- Models are looked up in the graph, not ref()'d: a mart's touched periods read models it
        is built after (through its parents), which need not be its own parents. -#}
    {%- if kind == 'tickets' -%}
        select ticket_number as period from {{ tickets }}
    {%- else -%}
    select distinct cast({{ dbt.date_trunc(grain, 'day') }} as date) as period
    from (
        {%- if kind == 'experience' %}
        select resolved_at as day from {{ tickets }}
        union all
        select canceled_at as day from {{ tickets }}
        union all
        select after.resolved_at as day
        from {{ graph_relation('model.xmo.int_tickets_mapped_to_services') }} as after
        inner join {{ tickets }} as touched
            on after.ticket_number = touched.ticket_number
        union all
        select after.canceled_at as day
        from {{ graph_relation('model.xmo.int_tickets_mapped_to_services') }} as after
        inner join {{ tickets }} as touched
            on after.ticket_number = touched.ticket_number
        union all
        {%- endif %}
        {%- if kind in ('experience', 'proactive', 'journey') %}
        {%- set survey_type = 'proactive' if kind == 'proactive' else 'ticket' %}
        select responded_at as day from {{ responses }}
        where survey_type = '{{ survey_type }}'
        union all
        select after.responded_at as day
        from {{ graph_relation('model.xmo.int_survey_responses_joined_to_tickets') }} as after
        inner join {{ responses }} as touched
            on after.response_id = touched.response_id
        where after.survey_type = '{{ survey_type }}'
        {%- endif %}
        {%- if kind == 'journey' %}
        union all
        select opened_at as day from {{ tickets }}
        union all
        select after.opened_at as day
        from {{ graph_relation('model.xmo.int_tickets_mapped_to_services') }} as after
        inner join {{ tickets }} as touched
            on after.ticket_number = touched.ticket_number
        union all
        select month_start as day
        from {{ graph_relation('model.xmo.int_employee_device_month') }} as months
        inner join {{ touched_relation('employees') }} as moved
            on months.employee_key = moved.employee_key
        {%- endif %}
        {%- if kind in ('journey', 'device') %}
        {{ 'union all' if kind == 'journey' }}
        select snapshot_date as day from {{ touched_relation('device_days') }}
        {%- endif %}
        {%- if kind == 'device' %}
        union all
        select weeks.week_start as day
        from {{ graph_relation('model.xmo.int_device_weeks_summed') }} as weeks
        inner join {{ touched_relation('employees') }} as moved
            on weeks.employee_key = moved.employee_key
        {%- endif %}
    ) as touched_days
    where day is not null
    {%- endif -%}
{%- endmacro %}

{#- A condition keeping the rows of `expression` (a period, or a ticket number) in the model's
    touched periods; `1 = 1` when the build rebuilds every period. -#}
{% macro in_touched_periods(expression, kind=none, grain=none) -%}
    {%- if rebuilds_every_period() -%}
        1 = 1
    {%- else -%}
        {{ expression }} in (
            select period from ({{ touched_periods(
                kind or config.meta_get('touched_by'), grain or config.meta_get('period_grain')
            ) }}) as touched_periods
        )
    {%- endif -%}
{%- endmacro %}

{#- The replace_periods strategy: the touched periods' rows (every row when the build rebuilds
    every period) make way for the run's. -#}
{% macro get_incremental_replace_periods_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_replace_periods_sql', 'xmo')(arg_dict)) }}
{%- endmacro %}

{% macro replaced_rows_condition(alias=none) -%}
    {%- set column = config.meta_get('period_column') -%}
    {%- if not column or not config.meta_get('touched_by') -%}
        {{ exceptions.raise_compiler_error(
            'replace_periods needs meta period_column and touched_by: ' ~ this) }}
    {%- endif -%}
    {{ in_touched_periods((alias ~ '.' if alias else '') ~ column) }}
{%- endmacro %}

{% macro default__get_incremental_replace_periods_sql(arg_dict) -%}
    {%- set columns = adapter.get_columns_in_relation(arg_dict['target_relation'])
        | map(attribute='name') | map('string') | list -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ replaced_rows_condition() }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns | join(', ') }})
    select {{ columns | join(', ') }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#- Spark's Parquet tables have no DELETE: the rows that stay and the run's rows are written to a
    scratch table (the run's rows are a view reading the model's own table), which then
    overwrites the table. The marts are small; a daily run still computes only its periods. -#}
{% macro spark__get_incremental_replace_periods_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set scratch = target.incorporate(path={'identifier': target.identifier ~ '__dbt_periods'}) -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='name') | list -%}
    {%- do run_statement('drop table if exists ' ~ scratch) -%}
    {%- do run_statement(
        'create table ' ~ scratch ~ ' using parquet as select ' ~ columns | join(', ')
        ~ ' from ' ~ arg_dict['temp_relation']
    ) -%}
    {%- if not rebuilds_every_period() -%}
        {%- do run_statement(
            'insert into ' ~ scratch ~ ' select ' ~ columns | join(', ') ~ ' from ' ~ target
            ~ ' as kept where not (' ~ replaced_rows_condition('kept') ~ ')'
        ) -%}
    {%- endif -%}
    {%- do run_statement(
        'insert overwrite table ' ~ target ~ ' select ' ~ columns | join(', ') ~ ' from ' ~ scratch
    ) -%}
    drop table if exists {{ scratch }}
{%- endmacro %}
