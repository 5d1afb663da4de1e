{#- One row per person and ISO week (Monday to Sunday).

    Capacity: a user's `capacityInMinutes` is a week's capacity (Rocketlane's `durationInMinutes`
    of a FULL_DAY time off is capacity / working days of the week). Time off: each time off's
    `durationInMinutes` (minutes per day) for every working day (Monday to Friday, var
    `working_days_per_week`) from its start to its end date. Available = capacity - time off,
    at least 0. The holiday calendar is carried by name only: the API does not list its days.
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

day_numbers as (
    {{ dbt.generate_series(var('max_time_off_days')) }}
),

time_off_days as (
    select
        o.user_id,
        {{ add_days('o.start_date', 'n.generated_number - 1') }} as day,
        coalesce(o.minutes_per_day, 0) as minutes
    from {{ ref('stg_rocketlane__time_offs') }} as o
    inner join day_numbers as n
        on n.generated_number - 1 <= {{ days_between('o.start_date', 'coalesce(o.end_date, o.start_date)') }}
    where o.start_date is not null
),

time_off as (
    select
        user_id,
        {{ iso_week_start('day') }} as week_start,
        sum(minutes) as time_off_minutes,
        count(*) as time_off_days
    from time_off_days
    where {{ iso_day_of_week('day') }} <= {{ var('working_days_per_week') }}
    group by user_id, {{ iso_week_start('day') }}
),

weeks as (
    select week_start from logged
    union
    select week_start from time_off
),

grid as (
    select
        people.*,
        weeks.week_start,
        coalesce(time_off.time_off_minutes, 0) as time_off_minutes,
        coalesce(time_off.time_off_days, 0) as time_off_days,
        coalesce(logged.minutes_logged, 0) as minutes_logged,
        coalesce(logged.minutes_billable, 0) as minutes_billable,
        coalesce(logged.minutes_non_billable, 0) as minutes_non_billable
    from people
    cross join weeks
    left join time_off on time_off.user_id = people.user_id and time_off.week_start = weeks.week_start
    left join logged on logged.user_id = people.user_id and logged.week_start = weeks.week_start
),

available as (
    select
        *,
        case
            when capacity_in_minutes is not null
                then greatest(capacity_in_minutes - time_off_minutes, 0)
        end as available_minutes
    from grid
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
from available
