{#- One row per project and currency: the cost and billable value of the time logged at rates in
    that currency, and (with the opt-in invoices) what invoices in that currency billed the
    project, and its share of their paid, outstanding and written-off amounts. No column adds
    different currencies: rocketlane__projects' amounts are NULL where a project's rates or
    invoices mix currencies, and this model has them per currency. -#}
{%- set invoices = using_source('invoices', 'using_invoices') -%}
with logged as (
    select
        project_id,
        cost_rate_currency as currency_code,
        sum(minutes / 60.0 * cost_rate) as time_cost,
        sum(minutes) as minutes_at_cost_rate,
        cast(null as {{ dbt.type_numeric() }}) as time_billable_value,
        cast(0 as {{ dbt.type_bigint() }}) as minutes_at_bill_rate
    from {{ ref('stg_rocketlane__time_entries') }}
    where cost_rate is not null and cost_rate_currency is not null
    group by project_id, cost_rate_currency
    union all
    select
        project_id,
        bill_rate_currency as currency_code,
        cast(null as {{ dbt.type_numeric() }}) as time_cost,
        cast(0 as {{ dbt.type_bigint() }}) as minutes_at_cost_rate,
        sum(minutes / 60.0 * bill_rate) as time_billable_value,
        sum(minutes) as minutes_at_bill_rate
    from {{ ref('stg_rocketlane__time_entries') }}
    where is_billable and bill_rate is not null and bill_rate_currency is not null
    group by project_id, bill_rate_currency
),

{%- if invoices %}

invoice_shares as (
    {#- As in rocketlane__projects: a project's lines of an invoice that bills, and that share of
        the invoice's paid, outstanding and written-off amounts. -#}
    select
        l.project_id,
        i.invoice_id,
        i.currency_code,
        sum(l.amount + l.tax_amount) as invoiced_amount,
        sum(l.amount + l.tax_amount) / nullif(max(i.amount), 0) as share,
        max(i.amount_paid) as amount_paid,
        max(i.amount_outstanding) as amount_outstanding,
        max(i.amount_written_off) as amount_written_off
    from {{ ref('stg_rocketlane__invoice_lines') }} as l
    inner join {{ ref('stg_rocketlane__invoices') }} as i on i.invoice_id = l.invoice_id
    where l.project_id is not null and i.currency_code is not null
      and coalesce(i.invoice_status, '') not in ('{{ rocketlane_var('invoice_statuses_not_billed') | join("', '") }}')
    group by l.project_id, i.invoice_id, i.currency_code
),

invoiced as (
    select
        project_id,
        currency_code,
        count(*) as invoice_count,
        sum(invoiced_amount) as invoiced_amount,
        sum(amount_paid * share) as paid_amount,
        sum(amount_outstanding * share) as outstanding_amount,
        sum(amount_written_off * share) as written_off_amount
    from invoice_shares
    group by project_id, currency_code
),
{%- endif %}

time_amounts as (
    select
        project_id,
        currency_code,
        sum(time_cost) as time_cost,
        sum(minutes_at_cost_rate) as minutes_at_cost_rate,
        sum(time_billable_value) as time_billable_value,
        sum(minutes_at_bill_rate) as minutes_at_bill_rate
    from logged
    group by project_id, currency_code
),

keys as (
    select project_id, currency_code from time_amounts
{%- if invoices %}
    union
    select project_id, currency_code from invoiced
{%- endif %}
)

select
    k.project_id,
    p.project_name,
    k.currency_code,
    coalesce(t.time_cost, 0) as time_cost,
    coalesce(t.minutes_at_cost_rate, 0) as minutes_at_cost_rate,
    coalesce(t.time_billable_value, 0) as time_billable_value,
    coalesce(t.minutes_at_bill_rate, 0) as minutes_at_bill_rate,
{%- if invoices %}
    coalesce(i.invoice_count, 0) as invoice_count,
    coalesce(i.invoiced_amount, 0) as invoiced_amount,
    coalesce(i.paid_amount, 0) as paid_amount,
    coalesce(i.outstanding_amount, 0) as outstanding_amount,
    coalesce(i.written_off_amount, 0) as written_off_amount
{%- else %}
    {#- Invoices not loaded (or var rocketlane_using_invoices false): unknown, not zero. #}
    cast(null as {{ dbt.type_bigint() }}) as invoice_count,
    cast(null as {{ dbt.type_numeric() }}) as invoiced_amount,
    cast(null as {{ dbt.type_numeric() }}) as paid_amount,
    cast(null as {{ dbt.type_numeric() }}) as outstanding_amount,
    cast(null as {{ dbt.type_numeric() }}) as written_off_amount
{%- endif %}
from keys as k
{#- Live projects only, as in rocketlane__projects (a deleted project's entries count for none). #}
inner join {{ ref('stg_rocketlane__projects') }} as p on p.project_id = k.project_id
left join time_amounts as t on t.project_id = k.project_id and t.currency_code = k.currency_code
{%- if invoices %}
left join invoiced as i on i.project_id = k.project_id and i.currency_code = k.currency_code
{%- endif %}
