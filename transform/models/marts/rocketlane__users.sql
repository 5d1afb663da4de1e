{#- One row per user: who they are, their weekly capacity, the tasks assigned to them, the time
    they logged, and a column per enabled custom field of users. -#}
-- depends_on: {{ ref('stg_rocketlane__custom_field_values') }}, {{ ref('stg_rocketlane__custom_field_users') }}
{% set own_columns = [
    'user_id', 'full_name', 'first_name', 'last_name', 'email', 'user_type', 'user_status',
    'role_name', 'company_id', 'company_name', 'permission_name', 'capacity_minutes',
    'holiday_calendar_name', 'projects_owned', 'tasks_assigned', 'tasks_assigned_open',
    'minutes_logged', 'minutes_billable', 'first_logged_on', 'last_logged_on', 'created_at',
    'updated_at',
] -%}
{%- set fields = custom_fields('USER', own_columns) -%}
with owned as (
    select owner_user_id as user_id, count(*) as projects_owned
    from {{ ref('stg_rocketlane__projects') }}
    where owner_user_id is not null
    group by owner_user_id
),

assigned as (
    select
        a.user_id,
        count(*) as tasks_assigned,
        sum(case when t.is_completed then 0 else 1 end) as tasks_assigned_open
    from {{ ref('stg_rocketlane__task_assignees') }} as a
    inner join {{ ref('rocketlane__tasks') }} as t on t.task_id = a.task_id
    group by a.user_id
),

logged as (
    select
        user_id,
        sum(minutes) as minutes_logged,
        sum(case when is_billable then minutes else 0 end) as minutes_billable,
        min(entry_date) as first_logged_on,
        max(entry_date) as last_logged_on
    from {{ ref('stg_rocketlane__time_entries') }}
    where user_id is not null
    group by user_id
),

{%- if fields %}

custom_fields as (
    {{ custom_field_pivot('USER', fields) | indent(4) }}
),
{%- endif %}

users as (
    select * from {{ ref('stg_rocketlane__users') }}
)

select
    u.user_id,
    u.full_name,
    u.first_name,
    u.last_name,
    u.email,
    u.user_type,
    u.user_status,
    u.role_name,
    u.company_id,
    u.company_name,
    u.permission_name,
    u.capacity_in_minutes as capacity_minutes,
    u.holiday_calendar_name,
    coalesce(o.projects_owned, 0) as projects_owned,
    coalesce(a.tasks_assigned, 0) as tasks_assigned,
    coalesce(a.tasks_assigned_open, 0) as tasks_assigned_open,
    coalesce(l.minutes_logged, 0) as minutes_logged,
    coalesce(l.minutes_billable, 0) as minutes_billable,
    l.first_logged_on,
    l.last_logged_on,
    u.created_at,
    u.updated_at{{ custom_field_columns(fields, 'cf') }}
from users as u
left join owned as o on o.user_id = u.user_id
left join assigned as a on a.user_id = u.user_id
left join logged as l on l.user_id = u.user_id
{%- if fields %}
left join custom_fields as cf on cf.object_id = u.user_id
{%- endif %}
