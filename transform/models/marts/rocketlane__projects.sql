{#- One row per project: status, owner, customer, dates, tasks, phases, time logged, budget use
    and days late. -#}
with tasks as (
    select
        project_id,
        count(*) as tasks_total,
        sum(case when is_completed then 0 else 1 end) as tasks_open,
        sum(case when is_completed then 1 else 0 end) as tasks_completed,
        sum(case when is_overdue then 1 else 0 end) as tasks_overdue,
        sum(case when is_archived then 1 else 0 end) as tasks_archived
    from {{ ref('rocketlane__tasks') }}
    group by project_id
),

phases as (
    select
        project_id,
        count(*) as phases_total,
        sum(case when status_value in ({{ var('phase_completed_status_values') | join(', ') }}) then 1 else 0 end)
            as phases_completed
    from {{ ref('stg_rocketlane__phases') }}
    group by project_id
),

logged as (
    select
        project_id,
        sum(minutes) as minutes_logged,
        sum(case when is_billable then minutes else 0 end) as minutes_billable,
        sum(case when is_billable then 0 else minutes end) as minutes_non_billable
    from {{ ref('stg_rocketlane__time_entries') }}
    group by project_id
),

projects as (
    select
        *,
        coalesce(status_value in ({{ var('project_completed_status_values') | join(', ') }}), false) as is_completed
    from {{ ref('stg_rocketlane__projects') }}
)

select
    p.project_id,
    p.project_name,
    p.status_value,
    p.status_label,
    p.is_completed,
    p.is_archived,
    p.owner_user_id,
    p.owner_name,
    p.owner_email,
    p.customer_company_id,
    p.customer_name,
    p.start_date,
    p.due_date,
    p.start_date_actual,
    p.due_date_actual,
    coalesce(t.tasks_total, 0) as tasks_total,
    coalesce(t.tasks_open, 0) as tasks_open,
    coalesce(t.tasks_completed, 0) as tasks_completed,
    coalesce(t.tasks_overdue, 0) as tasks_overdue,
    coalesce(t.tasks_archived, 0) as tasks_archived,
    coalesce(ph.phases_total, 0) as phases_total,
    coalesce(ph.phases_completed, 0) as phases_completed,
    coalesce(l.minutes_logged, 0) as minutes_logged,
    coalesce(l.minutes_billable, 0) as minutes_billable,
    coalesce(l.minutes_non_billable, 0) as minutes_non_billable,
    p.budgeted_hours,
    case
        when p.budgeted_hours > 0 then coalesce(l.minutes_logged, 0) / 60.0 / p.budgeted_hours
    end as budget_hours_used_ratio,
    p.percentage_budget_consumed,
    p.percentage_budgeted_hours_consumed,
    case
        when p.due_date is null then null
        when p.is_completed
            then greatest({{ days_between('p.due_date', 'coalesce(p.due_date_actual, ' ~ as_of_date() ~ ')') }}, 0)
        else greatest({{ days_between('p.due_date', as_of_date()) }}, 0)
    end as days_late,
    p.created_at,
    p.updated_at
from projects as p
left join tasks as t on t.project_id = p.project_id
left join phases as ph on ph.project_id = p.project_id
left join logged as l on l.project_id = p.project_id
