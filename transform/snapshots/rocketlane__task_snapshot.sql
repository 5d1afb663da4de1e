{#- Tasks' history, one row per version: a new row when the status, phase, start or due date or
    the assignees change between two `dbt build`s (or `dbt snapshot`s), stamped with the task's
    `updatedAt`; a task no longer in the staging model (deleted in Rocketlane, or marked deleted
    by the loader) closes its last row at the build's time. Run it after every sync. -#}
{% snapshot rocketlane__task_snapshot %}
{{ config(
    unique_key='task_id',
    strategy='check',
    check_cols=['status_value', 'phase_id', 'start_date', 'due_date', 'assignee_user_ids'],
    updated_at='updated_at',
    hard_deletes='invalidate',
) }}
with assignees as (
    select
        task_id,
        {{ dbt.listagg('cast(user_id as ' ~ dbt.type_string() ~ ')', "','", 'order by user_id') }} as assignee_user_ids
    from {{ ref('stg_rocketlane__task_assignees') }}
    where user_id is not null
    group by task_id
)

select
    t.task_id,
    t.project_id,
    t.phase_id,
    t.status_value,
    t.status_label,
    t.start_date,
    t.due_date,
    coalesce(a.assignee_user_ids, '') as assignee_user_ids,
    t.updated_at
from {{ ref('stg_rocketlane__tasks') }} as t
left join assignees as a on a.task_id = t.task_id
{% endsnapshot %}
