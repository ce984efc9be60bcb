-- The floor: the two core marts computed by one hand-written DuckDB script straight from the
-- landing files, with nothing around it (no contracts, quarantine, history, checks, Dagster
-- or dbt). It follows the metric definitions of DESIGN §4 exactly as the dbt models do,
-- including "the latest version of a record wins", so its numbers must equal the published
-- marts; benchmarks/compare.py checks that they do.
--
-- {landing}, {reference}, {out} and {min_responses} are filled in by benchmarks/floor.py.

SET TimeZone = 'UTC';

-- ServiceNow Table API files: reference fields are a plain string or a {value, display_value}
-- object, so they are read as JSON; every other field straight into a typed struct.
CREATE TEMP TABLE ticket_records AS
WITH files AS (
    SELECT unnest(result) AS r, filename
    FROM read_json(
        '{landing}/itsm/*/*.json',
        columns = {'result': 'STRUCT(
            "number" VARCHAR, sys_id VARCHAR, sys_class_name VARCHAR, business_service JSON,
            assignment_group JSON, contact_type VARCHAR, opened_at VARCHAR, resolved_at VARCHAR, closed_at VARCHAR,
            sys_updated_on VARCHAR, state VARCHAR, made_sla VARCHAR, reopen_count VARCHAR)[]'},
        filename = true
    )
)
SELECT
    r.number AS number,
    r.sys_id AS sys_id,
    r.sys_class_name AS sys_class_name,
    coalesce(r.business_service ->> 'display_value', r.business_service ->> '$')
        AS business_service,
    coalesce(r.assignment_group ->> 'display_value', r.assignment_group ->> '$')
        AS assignment_group,
    r.contact_type AS contact_type,
    nullif(r.opened_at, '')::TIMESTAMP AS opened_at,
    nullif(r.resolved_at, '')::TIMESTAMP AS resolved_at,
    nullif(r.closed_at, '')::TIMESTAMP AS closed_at,
    nullif(r.sys_updated_on, '')::TIMESTAMP AS sys_updated_on,
    -- Ended without being resolved: an incident Canceled (8), a request item Closed
    -- Incomplete (4) or Closed Skipped (7).
    (lower(r.sys_class_name) = 'incident' AND r.state = '8')
        OR (lower(r.sys_class_name) = 'sc_req_item' AND r.state IN ('4', '7')) AS is_canceled,
    r.made_sla = 'true' AS made_sla,
    coalesce(nullif(r.reopen_count, '')::INTEGER, 0) > 0 AS is_reopened,
    regexp_extract(filename, '(\d{4}-\d{2}-\d{2})', 1)::DATE AS extract_date
FROM files;

-- A ticket's service: the first matching rule by precedence, the business-service mapping
-- first (0), then the organisation's rules (the generated ones name assignment groups, with
-- exact values).
CREATE TEMP TABLE rules AS
SELECT 0 AS precedence, 'business_service' AS field, lower(trim(business_service)) AS rule_key,
    service_id
FROM read_csv('{reference}/business_service_mapping.csv', all_varchar = true)
UNION ALL
SELECT precedence::INTEGER, lower(trim(field)), lower(trim(value)), service_id
FROM read_csv('{reference}/service_mapping_rules.csv', all_varchar = true)
WHERE nullif(trim(service_id), '') IS NOT NULL;

CREATE TEMP TABLE latest_tickets AS
SELECT * FROM ticket_records
QUALIFY row_number() OVER (PARTITION BY number ORDER BY sys_updated_on DESC, extract_date DESC) = 1;

CREATE TEMP TABLE ticket_services AS
WITH fields AS (
    SELECT number, 'business_service' AS field, lower(trim(business_service)) AS field_key
    FROM latest_tickets
    UNION ALL
    SELECT number, 'assignment_group', lower(trim(assignment_group)) FROM latest_tickets
)
SELECT fields.number, arg_min(rules.service_id, rules.precedence) AS service_id
FROM fields JOIN rules ON fields.field = rules.field AND fields.field_key = rules.rule_key
WHERE fields.field_key <> ''
GROUP BY fields.number;

CREATE TEMP TABLE tickets AS
SELECT
    t.sys_id AS ticket_id,
    t.number AS ticket_number,
    coalesce(m.service_id, 'unmapped') AS service_id,
    CASE WHEN t.is_canceled THEN NULL WHEN lower(t.sys_class_name) = 'sc_req_item'
        THEN coalesce(t.resolved_at, t.closed_at) ELSE t.resolved_at END AS resolved_at,
    CASE WHEN t.is_canceled THEN coalesce(t.closed_at, t.sys_updated_on) END AS canceled_at,
    t.opened_at,
    t.made_sla,
    t.is_reopened
FROM latest_tickets AS t
LEFT JOIN ticket_services AS m ON t.number = m.number;

CREATE TEMP TABLE ticket_responses AS
WITH responses AS (
    SELECT
        response_id,
        survey_type,
        ticket_number,
        (responded_at::TIMESTAMPTZ AT TIME ZONE 'UTC') AS responded_at,
        happiness,
        lost_time_minutes,
        regexp_extract(filename, '(\d{4}-\d{2}-\d{2})', 1)::DATE AS extract_date
    FROM read_csv('{landing}/survey/*/*.csv', filename = true, all_varchar = true)
    QUALIFY row_number() OVER (PARTITION BY response_id ORDER BY extract_date DESC) = 1
)
SELECT
    tickets.ticket_id,
    coalesce(tickets.service_id, 'unmapped') AS service_id,
    date_trunc('week', responses.responded_at)::DATE AS week_start,
    responses.happiness::INTEGER AS happiness,
    responses.lost_time_minutes::INTEGER AS lost_time_minutes
FROM responses
LEFT JOIN tickets ON responses.ticket_number = tickets.ticket_number
WHERE lower(responses.survey_type) = 'ticket';

CREATE TEMP TABLE resolved AS
SELECT *, date_trunc('week', resolved_at)::DATE AS week_start
FROM tickets WHERE resolved_at IS NOT NULL;

COPY (
    WITH by_responses AS (
        SELECT
            service_id, week_start, count(*) AS responses,
            100.0 * (count(*) FILTER (happiness >= 9) - count(*) FILTER (happiness <= 6))
                / count(*) AS happiness_score,
            avg(lost_time_minutes) AS avg_lost_time_minutes,
            sum(lost_time_minutes) / 60.0 AS total_lost_hours
        FROM ticket_responses GROUP BY ALL
    ),
    by_tickets AS (
        SELECT
            service_id, week_start, count(*) AS tickets_resolved,
            median(date_diff('second', opened_at, resolved_at) / 3600.0) AS mttr_hours,
            avg(made_sla::INTEGER) AS sla_attainment,
            avg(is_reopened::INTEGER) AS reopen_rate
        FROM resolved GROUP BY ALL
    ),
    canceled AS (
        SELECT service_id, date_trunc('week', canceled_at)::DATE AS week_start,
            count(*) AS tickets_canceled
        FROM tickets WHERE canceled_at IS NOT NULL GROUP BY ALL
    ),
    answered AS (
        SELECT resolved.service_id, resolved.week_start, count(*) AS answered
        FROM resolved JOIN ticket_responses USING (ticket_id)
        GROUP BY ALL
    )
    SELECT
        service_id,
        week_start,
        coalesce(r.responses, 0) AS responses,
        CASE WHEN r.responses >= {min_responses} THEN r.happiness_score END AS happiness_score,
        CASE WHEN r.responses >= {min_responses} THEN r.avg_lost_time_minutes END
            AS avg_lost_time_minutes,
        CASE WHEN r.responses >= {min_responses} THEN r.total_lost_hours END AS total_lost_hours,
        coalesce(t.tickets_resolved, 0) AS tickets_resolved,
        coalesce(a.answered, 0) / t.tickets_resolved AS response_rate,
        t.mttr_hours,
        t.sla_attainment,
        t.reopen_rate,
        coalesce(c.tickets_canceled, 0) AS tickets_canceled,
        coalesce(r.responses, 0) < {min_responses} AS low_sample
    FROM by_responses AS r
    FULL JOIN by_tickets AS t USING (service_id, week_start)
    FULL JOIN canceled AS c USING (service_id, week_start)
    LEFT JOIN answered AS a USING (service_id, week_start)
    ORDER BY service_id, week_start
) TO '{out}/service_experience_weekly.parquet' (FORMAT parquet);

-- Devices: the latest directory snapshot gives the department; each component is banded
-- between a good (100) and a poor (0) threshold, and the day's score is their weighted mean
-- over the components that apply (docs/metrics.md).
CREATE MACRO band(value, good, poor) AS
    CASE WHEN value IS NOT NULL
        THEN greatest(0.0, least(100.0, 100.0 * (poor - value) / (poor - good))) END;
CREATE MACRO weight(score, w) AS CASE WHEN score IS NOT NULL THEN w ELSE 0 END;

COPY (
    WITH departments AS (
        SELECT employee_id, department
        FROM read_csv('{landing}/directory/*/*.csv', filename = true, all_varchar = true)
        QUALIFY row_number() OVER (PARTITION BY employee_id ORDER BY filename DESC) = 1
    ),
    device_days AS (
        SELECT *
        FROM read_parquet('{landing}/device/*/*.parquet', filename = true)
        QUALIFY row_number() OVER (
            PARTITION BY device_id, snapshot_date ORDER BY filename DESC) = 1
    ),
    banded AS (
        SELECT
            coalesce(departments.department, 'unknown') AS department,
            d.model,
            date_trunc('week', d.snapshot_date)::DATE AS week_start,
            d.device_id,
            band(boot_duration_s, 30, 120) AS boot_score,
            band(logon_duration_s, 20, 60) AS logon_score,
            band(app_crashes + app_freezes, 0, 3) AS app_stability_score,
            band(system_crashes, 0, 1) AS system_stability_score,
            band(cpu_saturation_pct, 5, 30) AS cpu_score,
            band(memory_saturation_pct, 5, 30) AS memory_score,
            band(disk_free_pct, 20, 5) AS disk_score,
            band(battery_health_pct, 80, 60) AS battery_score
        FROM device_days AS d
        LEFT JOIN departments ON d.employee_id = departments.employee_id
    ),
    scored AS (
        SELECT *, round(
            (coalesce(boot_score * 0.15, 0) + coalesce(logon_score * 0.15, 0)
             + coalesce(app_stability_score * 0.20, 0) + coalesce(system_stability_score * 0.15, 0)
             + coalesce(cpu_score * 0.10, 0) + coalesce(memory_score * 0.10, 0)
             + coalesce(disk_score * 0.075, 0) + coalesce(battery_score * 0.075, 0))
            / (weight(boot_score, 0.15) + weight(logon_score, 0.15)
               + weight(app_stability_score, 0.20) + weight(system_stability_score, 0.15)
               + weight(cpu_score, 0.10) + weight(memory_score, 0.10)
               + weight(disk_score, 0.075) + weight(battery_score, 0.075)), 4) AS dex_score
        FROM banded
    )
    SELECT
        department, model, week_start,
        count(DISTINCT device_id) AS devices,
        count(*) AS device_days,
        CASE WHEN count(DISTINCT device_id) >= 5 THEN avg(dex_score) END AS dex_score,
        CASE WHEN count(DISTINCT device_id) >= 5 THEN avg(boot_score) END AS boot_score,
        CASE WHEN count(DISTINCT device_id) >= 5 THEN avg(logon_score) END AS logon_score,
        CASE WHEN count(DISTINCT device_id) >= 5 THEN avg(app_stability_score) END
            AS app_stability_score,
        CASE WHEN count(DISTINCT device_id) >= 5 THEN avg(system_stability_score) END
            AS system_stability_score,
        CASE WHEN count(DISTINCT device_id) >= 5 THEN avg(cpu_score) END AS cpu_score,
        CASE WHEN count(DISTINCT device_id) >= 5 THEN avg(memory_score) END AS memory_score,
        CASE WHEN count(DISTINCT device_id) >= 5 THEN avg(disk_score) END AS disk_score,
        CASE WHEN count(DISTINCT device_id) >= 5 THEN avg(battery_score) END AS battery_score,
        count(DISTINCT device_id) < 5 AS low_sample
    FROM scored
    GROUP BY ALL
    ORDER BY department, model, week_start
) TO '{out}/device_experience_weekly.parquet' (FORMAT parquet);
