{#- One row per person, week (this week and the next var `rocketlane_weeks_ahead`) and project
    they are allocated to (opt-in `resource-allocations`): hard and soft minutes, counted as in
    rocketlane__weeks_ahead (each allocation's minutes per day on every working day of the week
    between its start and end dates; placeholders left out), with the project's status, so that
    a question can leave out projects that are over (`project_is_closed`: Completed, Cancelled)
    and compare what is left with rocketlane__weeks_ahead's available minutes. No row without
    the allocations (not loaded, or var rocketlane_using_resource_allocations false). -#}
{%- set allocations = using_source('resource_allocations', 'using_resource_allocations') -%}
with week_numbers as (
    {{ dbt.generate_series(rocketlane_var('weeks_ahead') + 1) }}
),

weeks as (
    select
        generated_number - 1 as weeks_ahead,
        {{ add_days(iso_week_start(as_of_date()), '7 * (generated_number - 1)') }} as week_start
    from week_numbers
),

allocated as (
    select
        a.user_id,
        a.project_id,
        w.weeks_ahead,
        w.week_start,
        sum(case when a.allocation_type = 'HARD'
            then a.minutes_per_day * {{ working_days_in_week('a.start_date', 'a.end_date', 'w.week_start') }}
            else 0 end) as hard_allocated_minutes,
        sum(case when a.allocation_type = 'HARD' then 0
            else a.minutes_per_day * {{ working_days_in_week('a.start_date', 'a.end_date', 'w.week_start') }}
            end) as soft_allocated_minutes
    from {{ ref('stg_rocketlane__resource_allocations') }} as a
    inner join weeks as w
        on a.start_date <= {{ add_days('w.week_start', 6) }}
       and a.end_date >= w.week_start
    where a.user_id is not null
    {%- if not allocations %}
      and false
    {%- endif %}
    group by a.user_id, a.project_id, w.weeks_ahead, w.week_start
)

select
    a.user_id,
    u.full_name as person_name,
    u.user_status,
    a.week_start,
    a.weeks_ahead,
    a.project_id,
    p.project_name,
    p.status_value as project_status_value,
    p.status_label as project_status_label,
    p.is_closed as project_is_closed,
    a.hard_allocated_minutes + a.soft_allocated_minutes as allocated_minutes,
    a.hard_allocated_minutes,
    a.soft_allocated_minutes
from allocated as a
left join {{ ref('stg_rocketlane__users') }} as u on u.user_id = a.user_id
left join {{ ref('rocketlane__projects') }} as p on p.project_id = a.project_id
where a.hard_allocated_minutes + a.soft_allocated_minutes > 0
