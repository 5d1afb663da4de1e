{#- One row per task, with its project and phase names, status, assignees, age and time logged,
    and a column per enabled custom field of tasks. -#}
-- depends_on: {{ ref('stg_rocketlane__custom_field_values') }}, {{ ref('stg_rocketlane__custom_field_users') }}
{% set own_columns = [
    'task_id', 'task_name', 'task_type', 'project_id', 'project_name', 'phase_id', 'phase_name',
    'parent_task_id', 'status_value', 'status_label', 'is_completed', 'priority_label',
    'start_date', 'due_date', 'start_date_actual', 'due_date_actual', 'effort_in_minutes',
    'progress', 'is_archived', 'is_at_risk', 'is_billable', 'assignee_count', 'assignee_names',
    'days_open', 'is_overdue', 'days_overdue', 'minutes_logged', 'minutes_billable', 'created_at',
    'updated_at',
] -%}
{%- set fields = custom_fields('TASK', own_columns) -%}
with tasks as (
    select * from {{ ref('stg_rocketlane__tasks') }}
),

assignees as (
    select
        task_id,
        count(*) as assignee_count,
        {{ dbt.listagg('assignee_name', "', '", 'order by assignee_name') }} as assignee_names
    from {{ ref('stg_rocketlane__task_assignees') }}
    group by task_id
),

logged as (
    select
        task_id,
        sum(minutes) as minutes_logged,
        sum(case when is_billable then minutes else 0 end) as minutes_billable
    from {{ ref('stg_rocketlane__time_entries') }}
    where task_id is not null
    group by task_id
),

{%- if fields %}

custom_fields as (
    {{ custom_field_pivot('TASK', fields) | indent(4) }}
),
{%- endif %}

flagged as (
    select
        tasks.*,
        coalesce(tasks.status_value in ({{ rocketlane_var('task_completed_status_values') | join(', ') }}), false) as is_completed
    from tasks
)

select
    t.task_id,
    t.task_name,
    t.task_type,
    t.project_id,
    p.project_name,
    t.phase_id,
    ph.phase_name,
    t.parent_task_id,
    t.status_value,
    t.status_label,
    t.is_completed,
    t.priority_label,
    t.start_date,
    t.due_date,
    t.start_date_actual,
    t.due_date_actual,
    t.effort_in_minutes,
    t.progress,
    t.is_archived,
    t.is_at_risk,
    t.is_billable,
    coalesce(a.assignee_count, 0) as assignee_count,
    a.assignee_names,
    greatest({{ days_between('cast(t.created_at as date)',
        'case when t.is_completed then coalesce(t.due_date_actual, ' ~ as_of_date() ~ ') else ' ~ as_of_date() ~ ' end') }}, 0) as days_open,
    coalesce(not t.is_completed and t.due_date < {{ as_of_date() }}, false) as is_overdue,
    case
        when not t.is_completed and t.due_date < {{ as_of_date() }}
            then {{ days_between('t.due_date', as_of_date()) }}
        else 0
    end as days_overdue,
    coalesce(l.minutes_logged, 0) as minutes_logged,
    coalesce(l.minutes_billable, 0) as minutes_billable,
    t.created_at,
    t.updated_at{{ custom_field_columns(fields, 'cf') }}
from flagged as t
left join {{ ref('stg_rocketlane__projects') }} as p on p.project_id = t.project_id
left join {{ ref('stg_rocketlane__phases') }} as ph on ph.phase_id = t.phase_id
left join assignees as a on a.task_id = t.task_id
left join logged as l on l.task_id = t.task_id
{%- if fields %}
left join custom_fields as cf on cf.object_id = t.task_id
{%- endif %}
