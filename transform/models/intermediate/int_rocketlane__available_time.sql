{#- One row per user and ISO week (Monday to Sunday): capacity, time off and available minutes.
    The one definition of available time, which rocketlane__weekly_utilisation and
    rocketlane__weeks_ahead both read.

    Capacity: the user's `capacityInMinutes`, a week's; a day's capacity is capacity / var
    `rocketlane_working_days_per_week` (Rocketlane's FULL_DAY time off). Time off: each time
    off's `durationInMinutes` (minutes per day) on every working day (Monday to Friday) from its
    start to its end date (at most var `rocketlane_max_time_off_days` days), summed per day and
    bounded by that day's capacity: a record that carries more (a data-entry error, or a total)
    counts for a day's capacity, and the staging test `time_off_within_day_capacity` flags it.
    Available = capacity - time off, never negative. Weeks: those in which anyone logged time or
    had time off, and this week and the next var `rocketlane_weeks_ahead`. -#}
{%- set working_days = rocketlane_var('working_days_per_week') -%}
with users as (
    {#- Users, and the users time offs name that are not (any more) in Rocketlane: their weeks
        with time off are weeks of rocketlane__weekly_utilisation too. -#}
    select user_id, capacity_in_minutes
    from {{ ref('stg_rocketlane__users') }}
    union all
    select distinct user_id, cast(null as {{ dbt.type_bigint() }}) as capacity_in_minutes
    from {{ ref('stg_rocketlane__time_offs') }}
    where user_id is not null
      and user_id not in (select user_id from {{ ref('stg_rocketlane__users') }} where user_id is not null)
),

day_numbers as (
    {{ dbt.generate_series(rocketlane_var('max_time_off_days')) }}
),

time_off_days as (
    select
        o.user_id,
        {{ add_days('o.start_date', 'n.generated_number - 1') }} as day,
        sum(coalesce(o.minutes_per_day, 0)) as minutes
    from {{ ref('stg_rocketlane__time_offs') }} as o
    inner join day_numbers as n
        on n.generated_number - 1 <= {{ days_between('o.start_date', 'coalesce(o.end_date, o.start_date)') }}
    where o.start_date is not null
    group by o.user_id, {{ add_days('o.start_date', 'n.generated_number - 1') }}
),

bounded as (
    {#- A day's time off, at most a day's capacity (unbounded when the capacity is unknown). -#}
    select
        d.user_id,
        d.day,
        d.minutes as recorded_minutes,
        case
            when u.capacity_in_minutes is not null and d.minutes > u.capacity_in_minutes * 1.0 / {{ working_days }}
                then u.capacity_in_minutes * 1.0 / {{ working_days }}
            else d.minutes * 1.0
        end as minutes
    from time_off_days as d
    left join users as u on u.user_id = d.user_id
    where {{ iso_day_of_week('d.day') }} <= {{ working_days }}
),

time_off as (
    select
        user_id,
        {{ iso_week_start('day') }} as week_start,
        count(*) as time_off_days,
        sum(minutes) as time_off_minutes,
        sum(recorded_minutes) as time_off_minutes_recorded
    from bounded
    group by user_id, {{ iso_week_start('day') }}
),

week_numbers as (
    {{ dbt.generate_series(rocketlane_var('weeks_ahead') + 1) }}
),

weeks as (
    select distinct {{ iso_week_start('entry_date') }} as week_start
    from {{ ref('stg_rocketlane__time_entries') }}
    where entry_date is not null and user_id is not null
    union
    select week_start from time_off
    union
    select {{ add_days(iso_week_start(as_of_date()), '7 * (generated_number - 1)') }} as week_start
    from week_numbers
)

select
    u.user_id,
    w.week_start,
    u.capacity_in_minutes as capacity_minutes,
    coalesce(o.time_off_days, 0) as time_off_days,
    coalesce(o.time_off_minutes, 0) as time_off_minutes,
    coalesce(o.time_off_minutes_recorded, 0) as time_off_minutes_recorded,
    case
        when u.capacity_in_minutes is not null
            then greatest(u.capacity_in_minutes - coalesce(o.time_off_minutes, 0), 0)
    end as available_minutes
from users as u
cross join weeks as w
left join time_off as o on o.user_id = u.user_id and o.week_start = w.week_start
