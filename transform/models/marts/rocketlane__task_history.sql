{#- One row per version of a task that the builds captured (rocketlane__task_snapshot): its
    status, phase, dates and assignees from `valid_from` (the task's updatedAt then) to
    `valid_to` (the next version, or the build that no longer found the task; NULL while
    current), with what changed since the version before it. -#}
with versions as (
    select
        task_id,
        project_id,
        phase_id,
        status_value,
        status_label,
        start_date,
        due_date,
        assignee_user_ids,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to
    from {{ ref('rocketlane__task_snapshot') }}
),

previous as (
    select
        *,
        row_number() over (partition by task_id order by valid_from) as version_number,
        lag(status_value) over (partition by task_id order by valid_from) as previous_status_value,
        lag(phase_id) over (partition by task_id order by valid_from) as previous_phase_id,
        lag(due_date) over (partition by task_id order by valid_from) as previous_due_date,
        lag(assignee_user_ids) over (partition by task_id order by valid_from) as previous_assignee_user_ids,
        lead(valid_from) over (partition by task_id order by valid_from) as next_valid_from
    from versions
)

select
    task_id,
    project_id,
    version_number,
    valid_from,
    valid_to,
    valid_to is null as is_current,
    {#- Closed without a later version: the task left (deleted). #}
    valid_to is not null and next_valid_from is null as is_deleted,
    status_value,
    status_label,
    phase_id,
    start_date,
    due_date,
    assignee_user_ids,
    version_number > 1 and coalesce(status_value <> previous_status_value, status_value is not null or previous_status_value is not null) as status_changed,
    version_number > 1 and coalesce(phase_id <> previous_phase_id, phase_id is not null or previous_phase_id is not null) as phase_changed,
    version_number > 1 and coalesce(due_date <> previous_due_date, due_date is not null or previous_due_date is not null) as due_date_changed,
    version_number > 1 and coalesce(assignee_user_ids <> previous_assignee_user_ids, false) as assignees_changed,
    {{ days_between('previous_due_date', 'due_date') }} as due_date_shift_days
from previous
