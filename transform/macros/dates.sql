{#- Dates: ISO weeks (Monday to Sunday) and "today". -#}

{#- A calendar date column: VARCHAR 'YYYY-MM-DD' on DuckDB (target-duckdb), DATE elsewhere. -#}
{% macro to_date(expr) -%}
  cast({{ expr }} as date)
{%- endmacro %}

{#- The day the models count from: var `rocketlane_as_of_date`, else DBT_ROCKETLANE_AS_OF_DATE, else the
    warehouse's current date. -#}
{% macro as_of_date() -%}
  {%- set day = rocketlane_var('as_of_date') or env_var('DBT_ROCKETLANE_AS_OF_DATE', '') -%}
  {%- if day -%} cast('{{ day }}' as date) {%- else -%} current_date {%- endif -%}
{%- endmacro %}

{#- The Monday of `day`'s ISO week, as a date. -#}
{% macro iso_week_start(day) -%}
  cast({{ dbt.date_trunc('week', day) }} as date)
{%- endmacro %}

{% macro iso_year(day) -%}
  {{ return(adapter.dispatch('iso_year', 'rocketlane')(day)) }}
{%- endmacro %}
{% macro default__iso_year(day) -%} cast(extract(isoyear from {{ day }}) as integer) {%- endmacro %}
{% macro snowflake__iso_year(day) -%} yearofweekiso({{ day }}) {%- endmacro %}

{% macro iso_week(day) -%}
  {{ return(adapter.dispatch('iso_week', 'rocketlane')(day)) }}
{%- endmacro %}
{% macro default__iso_week(day) -%} cast(extract(week from {{ day }}) as integer) {%- endmacro %}
{% macro snowflake__iso_week(day) -%} weekiso({{ day }}) {%- endmacro %}

{#- ISO day of the week: 1 Monday .. 7 Sunday. -#}
{% macro iso_day_of_week(day) -%}
  {{ return(adapter.dispatch('iso_day_of_week', 'rocketlane')(day)) }}
{%- endmacro %}
{% macro default__iso_day_of_week(day) -%} cast(extract(isodow from {{ day }}) as integer) {%- endmacro %}
{% macro snowflake__iso_day_of_week(day) -%} dayofweekiso({{ day }}) {%- endmacro %}

{#- `day` plus `days` days, as a date. -#}
{% macro add_days(day, days) -%}
  cast({{ dbt.dateadd('day', days, day) }} as date)
{%- endmacro %}

{#- Whole days from `start` to `end` (dates). -#}
{% macro days_between(start, end) -%}
  {{ dbt.datediff(start, end, 'day') }}
{%- endmacro %}

{#- Working days (var `rocketlane_working_days_per_week` from Monday) of the days `start` to `end` that fall in
    the week of Monday `week_start`: their day numbers in the week (0-6), cut to the working days,
    counted. 0 when they miss the week. -#}
{% macro working_days_in_week(start, end, week_start) -%}
    greatest(
        least({{ days_between(week_start, 'least(' ~ end ~ ', ' ~ add_days(week_start, 6) ~ ')') }}, {{ rocketlane_var('working_days_per_week') - 1 }})
        - {{ days_between(week_start, 'greatest(' ~ start ~ ', ' ~ week_start ~ ')') }} + 1,
        0
    )
{%- endmacro %}
