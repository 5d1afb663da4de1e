{#- One row per person and ISO week, for this week and the next var `rocketlane_weeks_ahead` (default 12):
    minutes allocated to them (opt-in `resource-allocations`) against their available capacity.

    Allocated: each allocation's minutes per day on every working day (Monday to Friday, var
    `working_days_per_week`) of the week between its start and end dates; placeholders are not
    people and are left out. Available: int_rocketlane__available_time's, as in
    rocketlane__weekly_utilisation (capacity less time off, each day's time off bounded by a
    day's capacity, never negative). Over-allocated: more allocated than available; under-
    allocated: less than var `rocketlane_under_allocated_below` (default 0.5) of it. Without allocations
    (not loaded, or var rocketlane_using_resource_allocations false) the allocation columns are NULL.
    People: users with a capacity or with an allocation in these weeks. -#}
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

{%- if allocations %}

allocated as (
    select
        a.user_id,
        w.week_start,
        sum(a.minutes_per_day * {{ working_days_in_week('a.start_date', 'a.end_date', 'w.week_start') }}) as allocated_minutes,
        sum(case when a.allocation_type = 'HARD'
            then a.minutes_per_day * {{ working_days_in_week('a.start_date', 'a.end_date', 'w.week_start') }}
            else 0 end) as hard_allocated_minutes,
        count(distinct case
            when {{ working_days_in_week('a.start_date', 'a.end_date', 'w.week_start') }} > 0 then a.project_id
        end) as projects_allocated
    from {{ ref('stg_rocketlane__resource_allocations') }} as a
    inner join weeks as w
        on a.start_date <= {{ add_days('w.week_start', 6) }}
       and a.end_date >= w.week_start
    where a.user_id is not null
    group by a.user_id, w.week_start
),
{%- endif %}

people as (
    select user_id, full_name, email, user_type, user_status, capacity_in_minutes
    from {{ ref('stg_rocketlane__users') }}
    where capacity_in_minutes is not null
    {%- if allocations %}
       or user_id in (select user_id from allocated)
    {%- endif %}
),

grid as (
    select
        p.*,
        w.weeks_ahead,
        w.week_start,
        coalesce(o.time_off_minutes, 0) as time_off_minutes,
        o.available_minutes,
    {%- if allocations %}
        coalesce(a.allocated_minutes, 0) as allocated_minutes,
        coalesce(a.hard_allocated_minutes, 0) as hard_allocated_minutes,
        coalesce(a.projects_allocated, 0) as projects_allocated
    {%- else %}
        cast(null as {{ type_double() }}) as allocated_minutes,
        cast(null as {{ type_double() }}) as hard_allocated_minutes,
        cast(null as {{ dbt.type_bigint() }}) as projects_allocated
    {%- endif %}
    from people as p
    cross join weeks as w
    left join {{ ref('int_rocketlane__available_time') }} as o
        on o.user_id = p.user_id and o.week_start = w.week_start
    {%- if allocations %}
    left join allocated as a on a.user_id = p.user_id and a.week_start = w.week_start
    {%- endif %}
)

select
    user_id,
    full_name as person_name,
    email,
    user_type,
    user_status,
    week_start,
    weeks_ahead,
    {{ iso_year('week_start') }} as iso_year,
    {{ iso_week('week_start') }} as iso_week,
    capacity_in_minutes as capacity_minutes,
    time_off_minutes,
    available_minutes,
    allocated_minutes,
    hard_allocated_minutes,
    allocated_minutes - hard_allocated_minutes as soft_allocated_minutes,
    projects_allocated,
    available_minutes - allocated_minutes as unallocated_minutes,
    case when available_minutes > 0 then allocated_minutes * 1.0 / available_minutes end as allocation_ratio,
    case
        when available_minutes is null or allocated_minutes is null then null
        else allocated_minutes > available_minutes
    end as is_over_allocated,
    case
        when available_minutes is null or allocated_minutes is null then null
        when allocated_minutes > available_minutes then 'over'
        when allocated_minutes < available_minutes * {{ rocketlane_var('under_allocated_below') }} then 'under'
        else 'within'
    end as allocation_status
from grid
