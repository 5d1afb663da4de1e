{#- JSON access, one name per operation and an implementation per warehouse (adapter.dispatch).
    `expr` is a JSON value: DuckDB `JSON`, PostgreSQL `jsonb` or `jsonb[]` (arrays of objects,
    which to_jsonb turns into a jsonb array), Snowflake `VARIANT`. `path` is dotted: 'status.label'. -#}

{#- The value at `path` as text: strings without quotes, other values as JSON text. -#}
{% macro json_text(expr, path) -%}
  {{ return(adapter.dispatch('json_text', 'rocketlane')(expr, path)) }}
{%- endmacro %}

{% macro duckdb__json_text(expr, path) -%}
  json_extract_string({{ expr }}, '$.{{ path }}')
{%- endmacro %}

{% macro postgres__json_text(expr, path) -%}
  (to_jsonb({{ expr }}) #>> '{ {{- path.split('.') | join(',') -}} }')
{%- endmacro %}

{% macro snowflake__json_text(expr, path) -%}
  {#- The cast turns a JSON null (a VARIANT null, not SQL NULL) into NULL, and a string into
      its text without quotes. -#}
  get_path({{ expr }}, '{{ path }}')::varchar
{%- endmacro %}


{#- Typed values at `path`. -#}
{% macro json_bigint(expr, path) -%}
  cast({{ json_text(expr, path) }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro json_float(expr, path) -%}
  cast({{ json_text(expr, path) }} as {{ type_double() }})
{%- endmacro %}

{% macro json_boolean(expr, path) -%}
  cast({{ json_text(expr, path) }} as {{ dbt.type_boolean() }})
{%- endmacro %}


{#- A join that gives one row per element of the JSON array `expr` (none for NULL, a JSON null
    or an empty array), as `alias.value` (JSON). Put it right after the FROM table. -#}
{% macro json_array_elements(expr, alias) -%}
  {{ return(adapter.dispatch('json_array_elements', 'rocketlane')(expr, alias)) }}
{%- endmacro %}

{% macro duckdb__json_array_elements(expr, alias) -%}
  cross join unnest(coalesce(json_extract({{ expr }}, '$[*]'), [])) as {{ alias }}(value)
{%- endmacro %}

{% macro postgres__json_array_elements(expr, alias) -%}
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(to_jsonb({{ expr }})) = 'array' then to_jsonb({{ expr }}) else '[]'::jsonb end
  ) as {{ alias }}(value)
{%- endmacro %}

{% macro snowflake__json_array_elements(expr, alias) -%}
  , lateral flatten(input => {{ expr }}) as {{ alias }}
{%- endmacro %}


{#- The element itself (from json_array_elements) as text, for arrays of scalars. -#}
{% macro json_element_text(alias) -%}
  {{ return(adapter.dispatch('json_element_text', 'rocketlane')(alias)) }}
{%- endmacro %}

{% macro duckdb__json_element_text(alias) -%}
  json_extract_string({{ alias }}.value, '$')
{%- endmacro %}

{% macro postgres__json_element_text(alias) -%}
  ({{ alias }}.value #>> '{}')
{%- endmacro %}

{% macro snowflake__json_element_text(alias) -%}
  {{ alias }}.value::varchar
{%- endmacro %}


{#- The JSON value at `path` (an object or array, still JSON). -#}
{% macro json_get(expr, path) -%}
  {{ return(adapter.dispatch('json_get', 'rocketlane')(expr, path)) }}
{%- endmacro %}

{% macro duckdb__json_get(expr, path) -%}
  json_extract({{ expr }}, '$.{{ path }}')
{%- endmacro %}

{% macro postgres__json_get(expr, path) -%}
  (to_jsonb({{ expr }}) #> '{ {{- path.split('.') | join(',') -}} }')
{%- endmacro %}

{% macro snowflake__json_get(expr, path) -%}
  get_path({{ expr }}, '{{ path }}')
{%- endmacro %}


{#- Double precision: dbt's type_float() is a 4-byte REAL on DuckDB, too coarse for money. -#}
{% macro type_double() -%}
  double precision
{%- endmacro %}


{#- JSON text parsed into the warehouse's JSON type (for json_array_elements and json_get). -#}
{% macro json_parse(expr) -%}
  {{ return(adapter.dispatch('json_parse', 'rocketlane')(expr)) }}
{%- endmacro %}
{% macro duckdb__json_parse(expr) -%} cast({{ expr }} as json) {%- endmacro %}
{% macro postgres__json_parse(expr) -%} cast({{ expr }} as jsonb) {%- endmacro %}
{% macro snowflake__json_parse(expr) -%} parse_json({{ expr }}) {%- endmacro %}
