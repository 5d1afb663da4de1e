{#- A loader's column, as each warehouse's loader names it: target-duckdb and target-postgres keep
    the stream's property names (`createdAt`, quoted), target-snowflake upper-cases them
    (`CREATEDAT`; `"USER"` quoted). Always quoted, so reserved words (`user`, `date`) work. -#}
{% macro col(name) -%}
  {{ return(adapter.dispatch('col', 'rocketlane')(name)) }}
{%- endmacro %}

{% macro default__col(name) -%}
  "{{ name }}"
{%- endmacro %}

{% macro snowflake__col(name) -%}
  "{{ name | upper }}"
{%- endmacro %}


{#- The filter that drops rows the loader marked deleted (`_sdc_deleted_at`: soft delete on
    PostgreSQL and Snowflake). target-duckdb has the column only with add_metadata_columns, and
    ignores deletions anyway: without the column nothing is filtered. -#}
{% macro not_soft_deleted(relation) -%}
  {%- if has_column(relation, '_sdc_deleted_at') -%}
    {{ col('_sdc_deleted_at') }} is null
  {%- else -%}
    1 = 1
  {%- endif -%}
{%- endmacro %}


{#- Whether a relation has a column (case-insensitive); true while parsing. A selection may
    leave a column out (e.g. '!*.fields'), and target-duckdb has no `_sdc_*` columns by default. -#}
{% macro has_column(relation, name) -%}
  {%- if not execute -%}{{ return(true) }}{%- endif -%}
  {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
  {{ return(name | lower in names) }}
{%- endmacro %}


{#- `, fields as custom_fields` when the relation has the custom field values (a selection such as
    '!tasks.fields' leaves them out), else nothing: the last column of a staging model. -#}
{% macro custom_fields_column(relation) -%}
  {%- if has_column(relation, 'fields') %},
    {{ col('fields') }} as custom_fields
  {%- endif -%}
{%- endmacro %}


{#- "First Last" of a user reference (owner, user, ...), NULL when both are missing. -#}
{% macro person_name(expr) -%}
  nullif(trim(coalesce({{ json_text(expr, 'firstName') }}, '') || ' ' || coalesce({{ json_text(expr, 'lastName') }}, '')), '')
{%- endmacro %}
