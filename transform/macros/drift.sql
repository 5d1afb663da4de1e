{#- `, <tap-pm's _drift> as drift`: the values the tap kept as sent because they did not fit the
    schema or no warehouse stores them (docs/values.md), as a JSON object keyed by field path, NULL
    where nothing was kept. target-postgres writes a JSON `null` (not SQL NULL) for a record that
    has no `_drift`, so only an object counts. Nothing when a selection left the column out. -#}
{% macro drift_column(relation) -%}
  {%- if has_column(relation, '_drift') -%}
    , {{ json_object_or_null(col('_drift')) }} as drift
  {%- endif -%}
{%- endmacro %}


{% macro json_object_or_null(expr) -%}
  {{ return(adapter.dispatch('json_object_or_null', 'rocketlane')(expr)) }}
{%- endmacro %}

{% macro duckdb__json_object_or_null(expr) -%}
  case when json_type({{ expr }}) = 'OBJECT' then {{ expr }} end
{%- endmacro %}

{% macro postgres__json_object_or_null(expr) -%}
  case when jsonb_typeof(to_jsonb({{ expr }})) = 'object' then to_jsonb({{ expr }}) end
{%- endmacro %}

{% macro snowflake__json_object_or_null(expr) -%}
  {#- TO_JSON, not IS_OBJECT: the one fakesnow also runs (a VARIANT null gives 'null'). -#}
  case when left(to_json({{ expr }}), 1) = '{' then {{ expr }} end
{%- endmacro %}
