{#- Custom fields as columns of the marts, built when a mart compiles from the `fields` table.

    custom_fields(object_type, taken) lists the workspace's enabled fields of PROJECT, TASK or
    USER, each a dict: id, label, field_type, kind (number, date, boolean, user, users or text)
    and name, the column's name: var `custom_field_column_names` ({field id: name}) when it pins
    one, else the label in snake_case (accents folded, other characters dropped); `field_<id>`
    when nothing is left, and `<name>_<id>` when the name is taken by the mart's own columns
    (`taken`) or an older field (fields in id order). User fields have a second column, `id_name`:
    `<name>_user_id` (single user) or `<name>_user_ids` (several, comma-separated).
    Vars `custom_fields_include` (ids or labels; empty: every field) and `custom_fields_exclude`
    choose the fields. -#}
{% macro custom_fields(object_type, taken=[]) -%}
  {%- set fields = [] -%}
  {%- if not execute or not source_exists('fields') -%}{{ return(fields) }}{%- endif -%}
  {%- set src = source('rocketlane', 'fields') -%}
  {%- set query -%}
    select cast({{ col('id') }} as {{ dbt.type_bigint() }}), {{ col('fieldLabel') }}, {{ col('fieldType') }}
    from {{ src }}
    where {{ col('objectType') }} = '{{ object_type }}'
      and coalesce({{ col('enabled') }}, true)
      and {{ not_soft_deleted(src) }}
    order by 1
  {%- endset -%}
  {%- set include = rocketlane_var('custom_fields_include') | map('string') | map('lower') | list -%}
  {%- set exclude = rocketlane_var('custom_fields_exclude') | map('string') | map('lower') | list -%}
  {%- set pinned = {} -%}
  {%- for key, value in (rocketlane_var('custom_field_column_names') or {}).items() -%}
    {%- do pinned.update({key | string: value}) -%}
  {%- endfor -%}
  {%- set used = taken | map('lower') | list -%}
  {%- for row in run_query(query).rows -%}
    {%- set field_id = row[0] | int -%}
    {%- set label = row[1] or '' -%}
    {%- set keys = [field_id | string, label | lower] -%}
    {%- set wanted = (not include or keys[0] in include or keys[1] in include)
        and keys[0] not in exclude and keys[1] not in exclude -%}
    {%- if wanted -%}
      {%- set field_type = (row[2] or '') | upper -%}
      {%- set kind = custom_field_kind(field_type) -%}
      {%- set name = pinned.get(keys[0]) -%}
      {%- if not name -%}
        {%- set name = snake_case(label) or 'field_' ~ field_id -%}
        {%- if name[0] in '0123456789' -%}{%- set name = 'field_' ~ name -%}{%- endif -%}
        {%- if name in used or (kind in ('user', 'users') and name ~ '_user_id' ~ ('s' if kind == 'users' else '') in used) -%}
          {%- set name = name ~ '_' ~ field_id -%}
        {%- endif -%}
      {%- endif -%}
      {%- set id_name = none -%}
      {%- if kind == 'user' -%}{%- set id_name = name ~ '_user_id' -%}{%- endif -%}
      {%- if kind == 'users' -%}{%- set id_name = name ~ '_user_ids' -%}{%- endif -%}
      {%- do used.append(name | lower) -%}
      {%- if id_name -%}{%- do used.append(id_name | lower) -%}{%- endif -%}
      {%- do fields.append({'id': field_id, 'label': label, 'field_type': field_type,
          'kind': kind, 'name': name, 'id_name': id_name}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(fields) }}
{%- endmacro %}


{#- The column type a fieldType gets. -#}
{% macro custom_field_kind(field_type) -%}
  {%- if field_type in ('NUMBER', 'RATING', 'CURRENCY', 'PERCENTAGE') -%}{{ return('number') }}
  {%- elif field_type == 'DATE' -%}{{ return('date') }}
  {%- elif field_type in ('YES_OR_NO', 'CHECKBOX', 'BOOLEAN') -%}{{ return('boolean') }}
  {%- elif field_type == 'SINGLE_USER' -%}{{ return('user') }}
  {%- elif field_type == 'MULTIPLE_USER' -%}{{ return('users') }}
  {%- elif field_type in ('SINGLE_CHOICE', 'MULTIPLE_CHOICE') -%}{{ return('choice') }}
  {%- else -%}{{ return('text') }}
  {%- endif -%}
{%- endmacro %}


{#- `text` as a snake_case identifier: lower case, common accents folded, every run of other
    characters one underscore, none at either end. -#}
{% macro snake_case(text) -%}
  {%- set folds = {
      'a': 'àáâãäåāăą', 'c': 'çćčĉċ', 'd': 'ďđ', 'e': 'èéêëēĕėęě', 'g': 'ğĝġģ', 'h': 'ĥħ',
      'i': 'ìíîïĩīĭįı', 'j': 'ĵ', 'k': 'ķ', 'l': 'ĺļľŀł', 'n': 'ñńņňŉ', 'o': 'òóôõöøōŏő',
      'r': 'ŕŗř', 's': 'śŝşšș', 't': 'ţťŧț', 'u': 'ùúûüũūŭůűų', 'w': 'ŵ', 'y': 'ýÿŷ',
      'z': 'źżž', 'ss': 'ß', 'ae': 'æ', 'oe': 'œ', 'th': 'þ',
  } -%}
  {%- set ns = namespace(text=(text or '') | lower) -%}
  {%- for plain, accented in folds.items() -%}
    {%- for letter in accented -%}
      {%- set ns.text = ns.text.replace(letter, plain) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(modules.re.sub('[^a-z0-9]+', '_', ns.text).strip('_')) }}
{%- endmacro %}


{#- One row per object of `object_type` with custom field values: `object_id` and a typed column
    per field of `fields` (from custom_fields()). -#}
{% macro custom_field_pivot(object_type, fields) -%}
  {%- set users_fields = fields | selectattr('kind', 'equalto', 'users') | list -%}
  {%- if users_fields %}
with user_ids as (
    select
        object_id,
        field_id,
        {{ dbt.listagg('cast(user_id as ' ~ dbt.type_string() ~ ')', "', '", 'order by user_id') }} as user_ids
    from {{ ref('stg_rocketlane__custom_field_users') }}
    where object_type = '{{ object_type }}' and user_id is not null
    group by object_id, field_id
)
  {%- endif %}
select
    v.object_id
  {%- for f in fields %},
    {{ custom_field_aggregate(f, 'v') }} as {{ col(f.name) }}
    {%- if f.kind == 'user' %},
    max(case when v.field_id = {{ f.id }} then v.field_value_user_id end) as {{ col(f.id_name) }}
    {%- elif f.kind == 'users' %},
    max(case when v.field_id = {{ f.id }} then ids.user_ids end) as {{ col(f.id_name) }}
    {%- endif %}
  {%- endfor %}
from {{ ref('stg_rocketlane__custom_field_values') }} as v
{%- if users_fields %}
left join user_ids as ids on ids.object_id = v.object_id and ids.field_id = v.field_id
{%- endif %}
where v.object_type = '{{ object_type }}'
group by v.object_id
{%- endmacro %}


{#- A field's value among an object's rows (`v`: stg_rocketlane__custom_field_values), typed. -#}
{% macro custom_field_aggregate(field, v) -%}
  {%- set this = v ~ '.field_id = ' ~ field.id -%}
  {%- if field.kind == 'number' -%}
    max(case when {{ this }} then {{ safe_number(v ~ '.field_value') }} end)
  {%- elif field.kind == 'date' -%}
    max(case when {{ this }} then {{ safe_date(v ~ '.field_value') }} end)
  {%- elif field.kind == 'boolean' -%}
    {#- max() of booleans is not portable (PostgreSQL): 1/0, then back. -#}
    (max(case when {{ this }} then case
        when lower({{ v }}.field_value) in ('true', 'yes') then 1
        when lower({{ v }}.field_value) in ('false', 'no') then 0
    end end) = 1)
  {%- elif field.kind in ('choice', 'user', 'users') -%}
    max(case when {{ this }} then {{ v }}.field_value_label end)
  {%- else -%}
    max(case when {{ this }} then coalesce({{ v }}.field_value, {{ v }}.field_value_label) end)
  {%- endif -%}
{%- endmacro %}


{#- `, alias.<column>` for each field's columns, for a mart's select list. -#}
{% macro custom_field_columns(fields, alias) -%}
  {%- for f in fields %},
    {{ alias }}.{{ col(f.name) }}
    {%- if f.id_name %},
    {{ alias }}.{{ col(f.id_name) }}
    {%- endif %}
  {%- endfor %}
{%- endmacro %}


{#- Text as a number, NULL when it is not one. -#}
{% macro safe_number(expr) -%}
  {{ return(adapter.dispatch('safe_number', 'rocketlane')(expr)) }}
{%- endmacro %}
{% macro default__safe_number(expr) -%}
  try_cast({{ expr }} as {{ dbt.type_numeric() }})
{%- endmacro %}
{% macro postgres__safe_number(expr) -%}
  case when {{ expr }} ~ '^\s*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?\s*$'
    then cast({{ expr }} as {{ dbt.type_numeric() }}) end
{%- endmacro %}

{#- Text 'YYYY-MM-DD' as a date, NULL when it is not one. -#}
{% macro safe_date(expr) -%}
  {{ return(adapter.dispatch('safe_date', 'rocketlane')(expr)) }}
{%- endmacro %}
{% macro default__safe_date(expr) -%}
  try_cast({{ expr }} as date)
{%- endmacro %}
{% macro postgres__safe_date(expr) -%}
  case when {{ expr }} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then cast({{ expr }} as date) end
{%- endmacro %}
