{#- One row per person and ISO week (Monday to Sunday).

    Capacity, time off and available minutes come from int_rocketlane__available_time (the one
    definition, shared with rocketlane__weeks_ahead): capacity is `capacityInMinutes`, a week's;
    time off each time off's minutes per day on every working day it covers, bounded by a day's
    capacity (capacity / var `rocketlane_working_days_per_week`); available = capacity - time off,
    never negative. The holiday calendar is carried by name only: the API does not list its days.
    Weeks: every week in which anyone logged time or had time off; people: users with a capacity
    or with time logged. -#}
with people as (
    select user_id, full_name, email, user_type, capacity_in_minutes, holiday_calendar_name
    from {{ ref('stg_rocketlane__users') }}
    where capacity_in_minutes is not null
       or user_id in (select user_id from {{ ref('stg_rocketlane__time_entries') }})
),

logged as (
    select
        user_id,
        {{ iso_week_start('entry_date') }} as week_start,
        sum(minutes) as minutes_logged,
        sum(case when is_billable then minutes else 0 end) as minutes_billable,
        sum(case when is_billable then 0 else minutes end) as minutes_non_billable
    from {{ ref('stg_rocketlane__time_entries') }}
    where entry_date is not null and user_id is not null
    group by user_id, {{ iso_week_start('entry_date') }}
),

available as (
    select * from {{ ref('int_rocketlane__available_time') }}
),

weeks as (
    select week_start from logged
    union
    select week_start from available where time_off_days > 0
),

grid as (
    select
        people.*,
        weeks.week_start,
        coalesce(available.time_off_minutes, 0) as time_off_minutes,
        coalesce(available.time_off_days, 0) as time_off_days,
        available.available_minutes,
        coalesce(logged.minutes_logged, 0) as minutes_logged,
        coalesce(logged.minutes_billable, 0) as minutes_billable,
        coalesce(logged.minutes_non_billable, 0) as minutes_non_billable
    from people
    cross join weeks
    left join available on available.user_id = people.user_id and available.week_start = weeks.week_start
    left join logged on logged.user_id = people.user_id and logged.week_start = weeks.week_start
)

select
    user_id,
    full_name as person_name,
    email,
    user_type,
    holiday_calendar_name,
    week_start,
    {{ iso_year('week_start') }} as iso_year,
    {{ iso_week('week_start') }} as iso_week,
    capacity_in_minutes as capacity_minutes,
    time_off_days,
    time_off_minutes,
    available_minutes,
    minutes_logged,
    minutes_billable,
    minutes_non_billable,
    case when available_minutes > 0 then minutes_logged * 1.0 / available_minutes end as utilisation,
    case when available_minutes > 0 then minutes_billable * 1.0 / available_minutes end as billable_utilisation
from grid
