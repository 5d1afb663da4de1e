{#- One row per version of a project that the builds captured (rocketlane__project_snapshot): its
    status, current phases and dates from `valid_from` (the project's updatedAt then) to
    `valid_to` (the next version, or the build that no longer found it; NULL while current), and
    how far the due date moved: when did this project slip? -#}
with versions as (
    select
        project_id,
        status_value,
        status_label,
        current_phase_ids,
        start_date,
        due_date,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to
    from {{ ref('rocketlane__project_snapshot') }}
),

previous as (
    select
        *,
        row_number() over (partition by project_id order by valid_from) as version_number,
        lag(status_value) over (partition by project_id order by valid_from) as previous_status_value,
        lag(current_phase_ids) over (partition by project_id order by valid_from) as previous_current_phase_ids,
        lag(due_date) over (partition by project_id order by valid_from) as previous_due_date,
        lead(valid_from) over (partition by project_id order by valid_from) as next_valid_from
    from versions
)

select
    project_id,
    version_number,
    valid_from,
    valid_to,
    valid_to is null as is_current,
    valid_to is not null and next_valid_from is null as is_deleted,
    status_value,
    status_label,
    current_phase_ids,
    start_date,
    due_date,
    version_number > 1 and coalesce(status_value <> previous_status_value, status_value is not null or previous_status_value is not null) as status_changed,
    version_number > 1 and coalesce(current_phase_ids <> previous_current_phase_ids, false) as phase_changed,
    version_number > 1 and coalesce(due_date <> previous_due_date, due_date is not null or previous_due_date is not null) as due_date_changed,
    {{ days_between('previous_due_date', 'due_date') }} as due_date_shift_days
from previous
