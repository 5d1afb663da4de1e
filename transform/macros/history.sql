{#- History marts over the snapshots (snapshots/). -#}

{#- One row per record and stretch of time in one status, from `snapshot` (key `key`): versions
    in a row with the same status_value make one stretch. `entered_at`: when the first of them was
    stamped (the record's updatedAt when a build first saw it); `left_at`: when the next status
    was stamped, or when the record left the staging model (deleted), NULL while current.
    `hours_in_status` runs to now while current. `carried`: columns taken from the stretch's
    first version. -#}
{% macro status_history(snapshot, key, carried=[]) -%}
with versions as (
    select
        {{ key }},
        status_value,
        status_label,
        {%- for column in carried %}
        {{ column }},
        {%- endfor %}
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to
    from {{ ref(snapshot) }}
),

starts as (
    select
        *,
        case
            when lag(status_value) over (partition by {{ key }} order by valid_from) = status_value then 0
            else 1
        end as starts_status
    from versions
),

numbered as (
    select
        *,
        sum(starts_status) over (
            partition by {{ key }} order by valid_from rows between unbounded preceding and current row
        ) as status_number,
        row_number() over (partition by {{ key }} order by valid_from) as version_number
    from starts
),

stretches as (
    select
        {{ key }},
        status_number,
        min(version_number) as first_version,
        min(valid_from) as entered_at,
        {#- NULL when the last version is current (its valid_to is NULL). #}
        case when count(*) = count(valid_to) then max(valid_to) end as left_at,
        count(*) as versions
    from numbered
    group by {{ key }}, status_number
),

last_stretch as (
    select {{ key }}, max(status_number) as status_count
    from stretches
    group by {{ key }}
)

select
    s.{{ key }},
    s.status_number,
    n.status_value,
    n.status_label,
    {%- for column in carried %}
    n.{{ column }},
    {%- endfor %}
    s.entered_at,
    s.left_at,
    s.left_at is null as is_current,
    coalesce(s.status_number = l.status_count and s.left_at is not null, false) as is_deleted,
    {{ dbt.datediff('s.entered_at', 'coalesce(s.left_at, ' ~ utc_now() ~ ')', 'millisecond') }} / 3600000.0 as hours_in_status
from stretches as s
inner join numbered as n on n.{{ key }} = s.{{ key }} and n.version_number = s.first_version
inner join last_stretch as l on l.{{ key }} = s.{{ key }}
{%- endmacro %}


{#- The current time in UTC, as a timestamp without time zone (as the loaders store times). -#}
{% macro utc_now() -%}
  {{ return(adapter.dispatch('utc_now', 'rocketlane')()) }}
{%- endmacro %}
{% macro default__utc_now() -%} cast(timezone('UTC', now()) as timestamp) {%- endmacro %}
{% macro postgres__utc_now() -%} (now() at time zone 'utc') {%- endmacro %}
{% macro snowflake__utc_now() -%} sysdate() {%- endmacro %}


{#- When a snapshot closes a deleted record: now in UTC, as the records' own times (dbt's default
    on PostgreSQL and DuckDB is the session's local time). Used when transform/ is the root
    project; as a package, the root project's dispatch decides. -#}
{% macro postgres__snapshot_get_time() -%} {{ utc_now() }} {%- endmacro %}
{% macro duckdb__snapshot_get_time() -%} {{ utc_now() }} {%- endmacro %}
