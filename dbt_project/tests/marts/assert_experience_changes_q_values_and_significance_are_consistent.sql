-- A returned row breaks what a reader of experience_changes relies on: a q-value below its
-- p-value (Benjamini-Hochberg only ever raises them), a significant change smaller than the
-- change its answers could detect, or a significant row without a direction.
select
    service_id,
    week_start,
    indicator,
    reference_kind,
    delta,
    p_value,
    q_value,
    minimum_detectable_change,
    direction
from {{ ref('experience_changes') }}
where q_value < p_value
    or q_value > 1
    or (p_value is null) <> (q_value is null)
    or (is_significant and abs(delta) < minimum_detectable_change)
    or (is_significant and q_value > 0.05)
    or (is_significant and direction is null)
