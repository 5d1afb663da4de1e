{#- Time off records that carry more minutes per day than their user's day has: capacity /
    var `rocketlane_working_days_per_week` (Rocketlane's FULL_DAY). A data-entry error, or a
    total where a day's minutes belong; the models count such a day for a day's capacity
    (int_rocketlane__available_time), and this test names the records (severity warn). -#}
{% test time_off_within_day_capacity(model, column_name) %}
select o.*
from {{ model }} as o
inner join {{ ref('stg_rocketlane__users') }} as u on u.user_id = o.user_id
where u.capacity_in_minutes is not null
  and o.{{ column_name }} > u.capacity_in_minutes * 1.0 / {{ rocketlane_var('working_days_per_week') }}
{% endtest %}
