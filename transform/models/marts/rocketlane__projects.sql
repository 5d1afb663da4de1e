{#- One row per project: status, owner, customer, dates, tasks, phases, time logged, budget use
    and days late; fee, contract and Rocketlane's financial metrics; cost and billable value of
    the time logged; invoiced, paid, outstanding and written off (with the opt-in invoices); and
    a column per enabled custom field of projects. -#}
-- depends_on: {{ ref('stg_rocketlane__custom_field_values') }}, {{ ref('stg_rocketlane__custom_field_users') }}
{% set own_columns = [
    'project_id', 'project_name', 'status_value', 'status_label', 'is_completed', 'is_running',
    'is_closed', 'is_archived',
    'owner_user_id', 'owner_name', 'owner_email', 'customer_company_id', 'customer_name',
    'start_date', 'due_date', 'start_date_actual', 'due_date_actual', 'tasks_total', 'tasks_open',
    'tasks_completed', 'tasks_overdue', 'tasks_archived', 'phases_total', 'phases_completed',
    'minutes_logged', 'minutes_billable', 'minutes_non_billable', 'hours_logged', 'hours_submitted',
    'hours_approved', 'budgeted_hours', 'budget_hours_remaining', 'budget_burn',
    'budget_burn_submitted', 'budget_burn_approved', 'budget_hours_used_ratio', 'progress_percentage',
    'percentage_budget_consumed',
    'percentage_budgeted_hours_consumed', 'currency_code', 'project_fee', 'contract_type',
    'revenue_recognition_type', 'actual_revenue', 'actual_cost', 'actual_profit',
    'actual_margin_percent', 'estimated_revenue', 'estimated_cost', 'estimated_profit',
    'estimated_margin_percent', 'actual_margin', 'estimated_margin', 'time_cost',
    'time_cost_currency', 'time_cost_currency_count', 'time_billable_value',
    'time_billable_currency', 'time_billable_currency_count', 'minutes_without_cost_rate',
    'minutes_billable_without_bill_rate', 'invoice_count', 'invoice_currency',
    'invoice_currency_count', 'invoiced_amount', 'paid_amount', 'outstanding_amount',
    'written_off_amount', 'days_late', 'created_at', 'updated_at',
] -%}
{%- set fields = custom_fields('PROJECT', own_columns) -%}
{%- set invoices = using_source('invoices', 'using_invoices') -%}
with tasks as (
    select
        project_id,
        count(*) as tasks_total,
        sum(case when is_completed then 0 else 1 end) as tasks_open,
        sum(case when is_completed then 1 else 0 end) as tasks_completed,
        sum(case when is_overdue then 1 else 0 end) as tasks_overdue,
        sum(case when is_archived then 1 else 0 end) as tasks_archived
    from {{ ref('rocketlane__tasks') }}
    group by project_id
),

phases as (
    select
        project_id,
        count(*) as phases_total,
        sum(case when status_value in ({{ rocketlane_var('phase_completed_status_values') | join(', ') }}) then 1 else 0 end)
            as phases_completed
    from {{ ref('stg_rocketlane__phases') }}
    group by project_id
),

logged as (
    {#- Cost and value where an entry has a rate: hours times the rate, in the rates' currency
        when they all have one; NULL when they mix (no column adds different currencies: the
        amounts per currency are in rocketlane__project_currency_amounts), with the count of
        currencies. Submitted: entries submitted for approval and not rejected (SUBMITTED or
        APPROVED); approved: APPROVED. -#}
    select
        project_id,
        sum(minutes) as minutes_logged,
        sum(case when is_billable then minutes else 0 end) as minutes_billable,
        sum(case when is_billable then 0 else minutes end) as minutes_non_billable,
        sum(case when approval_status in ('SUBMITTED', 'APPROVED') then minutes else 0 end) as minutes_submitted,
        sum(case when approval_status = 'APPROVED' then minutes else 0 end) as minutes_approved,
        sum(minutes / 60.0 * cost_rate) as time_cost,
        count(distinct case when cost_rate is not null then cost_rate_currency end) as time_cost_currency_count,
        case when count(distinct case when cost_rate is not null then cost_rate_currency end) = 1
            then min(case when cost_rate is not null then cost_rate_currency end) end as time_cost_currency,
        sum(case when is_billable then minutes / 60.0 * bill_rate end) as time_billable_value,
        count(distinct case when is_billable and bill_rate is not null then bill_rate_currency end)
            as time_billable_currency_count,
        case when count(distinct case when is_billable and bill_rate is not null then bill_rate_currency end) = 1
            then min(case when is_billable and bill_rate is not null then bill_rate_currency end) end as time_billable_currency,
        sum(case when cost_rate is null then minutes else 0 end) as minutes_without_cost_rate,
        sum(case when is_billable and bill_rate is null then minutes else 0 end) as minutes_billable_without_bill_rate
    from {{ ref('stg_rocketlane__time_entries') }}
    group by project_id
),

{%- if invoices %}

invoice_shares as (
    {#- A project's part of an invoice: its lines (amount and tax); the invoice's paid,
        outstanding and written-off amounts are split in that proportion. Lines that bill no
        project, and invoices whose status is in var `rocketlane_invoice_statuses_not_billed`, count for
        none. -#}
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
    where l.project_id is not null
      and coalesce(i.invoice_status, '') not in ('{{ rocketlane_var('invoice_statuses_not_billed') | join("', '") }}')
    group by l.project_id, i.invoice_id, i.currency_code
),

invoiced as (
    select
        project_id,
        count(*) as invoice_count,
        case when count(distinct currency_code) = 1 then min(currency_code) end as invoice_currency,
        count(distinct currency_code) as invoice_currency_count,
        sum(invoiced_amount) as invoiced_amount,
        sum(amount_paid * share) as paid_amount,
        sum(amount_outstanding * share) as outstanding_amount,
        sum(amount_written_off * share) as written_off_amount
    from invoice_shares
    group by project_id
),
{%- endif %}

{%- if fields %}

custom_fields as (
    {{ custom_field_pivot('PROJECT', fields) | indent(4) }}
),
{%- endif %}

projects as (
    select
        *,
        coalesce(status_value in ({{ rocketlane_var('project_completed_status_values') | join(', ') }}), false) as is_completed,
        coalesce(status_value in ({{ rocketlane_var('project_running_status_values') | join(', ') }}), false) as is_running,
        coalesce(status_value in ({{ rocketlane_var('project_closed_status_values') | join(', ') }}), false) as is_closed
    from {{ ref('stg_rocketlane__projects') }}
)

select
    p.project_id,
    p.project_name,
    p.status_value,
    p.status_label,
    p.is_completed,
    p.is_running,
    p.is_closed,
    p.is_archived,
    p.owner_user_id,
    p.owner_name,
    p.owner_email,
    p.customer_company_id,
    p.customer_name,
    p.start_date,
    p.due_date,
    p.start_date_actual,
    p.due_date_actual,
    coalesce(t.tasks_total, 0) as tasks_total,
    coalesce(t.tasks_open, 0) as tasks_open,
    coalesce(t.tasks_completed, 0) as tasks_completed,
    coalesce(t.tasks_overdue, 0) as tasks_overdue,
    coalesce(t.tasks_archived, 0) as tasks_archived,
    coalesce(ph.phases_total, 0) as phases_total,
    coalesce(ph.phases_completed, 0) as phases_completed,
    coalesce(l.minutes_logged, 0) as minutes_logged,
    coalesce(l.minutes_billable, 0) as minutes_billable,
    coalesce(l.minutes_non_billable, 0) as minutes_non_billable,
    coalesce(l.minutes_logged, 0) / 60.0 as hours_logged,
    coalesce(l.minutes_submitted, 0) / 60.0 as hours_submitted,
    coalesce(l.minutes_approved, 0) / 60.0 as hours_approved,
    p.budgeted_hours,
    p.budgeted_hours - coalesce(l.minutes_logged, 0) / 60.0 as budget_hours_remaining,
    {#- Burn counts every live entry logged, as Rocketlane's own tracked hours and
        percentage_budgeted_hours_consumed do; _submitted and _approved are the stricter views. #}
    case
        when p.budgeted_hours > 0 then coalesce(l.minutes_logged, 0) / 60.0 / p.budgeted_hours
    end as budget_burn,
    case
        when p.budgeted_hours > 0 then coalesce(l.minutes_submitted, 0) / 60.0 / p.budgeted_hours
    end as budget_burn_submitted,
    case
        when p.budgeted_hours > 0 then coalesce(l.minutes_approved, 0) / 60.0 / p.budgeted_hours
    end as budget_burn_approved,
    {#- Deprecated (1.1.0): budget_burn. #}
    case
        when p.budgeted_hours > 0 then coalesce(l.minutes_logged, 0) / 60.0 / p.budgeted_hours
    end as budget_hours_used_ratio,
    p.progress_percentage,
    p.percentage_budget_consumed,
    p.percentage_budgeted_hours_consumed,
    p.currency_code,
    p.project_fee,
    p.contract_type,
    p.revenue_recognition_type,
    p.actual_revenue,
    p.actual_cost,
    p.actual_profit,
    p.actual_margin_percent,
    p.estimated_revenue,
    p.estimated_cost,
    p.estimated_profit,
    p.estimated_margin_percent,
    {#- Deprecated aliases (1.1.0, removed in 1.2.0): actual_profit, estimated_profit. #}
    p.actual_profit as actual_margin,
    p.estimated_profit as estimated_margin,
    case when coalesce(l.time_cost_currency_count, 0) <= 1 then coalesce(l.time_cost, 0) end as time_cost,
    l.time_cost_currency,
    coalesce(l.time_cost_currency_count, 0) as time_cost_currency_count,
    case when coalesce(l.time_billable_currency_count, 0) <= 1 then coalesce(l.time_billable_value, 0) end
        as time_billable_value,
    l.time_billable_currency,
    coalesce(l.time_billable_currency_count, 0) as time_billable_currency_count,
    coalesce(l.minutes_without_cost_rate, 0) as minutes_without_cost_rate,
    coalesce(l.minutes_billable_without_bill_rate, 0) as minutes_billable_without_bill_rate,
{%- if invoices %}
    coalesce(i.invoice_count, 0) as invoice_count,
    i.invoice_currency,
    coalesce(i.invoice_currency_count, 0) as invoice_currency_count,
    {#- Amounts in one currency; NULL when the invoices mix currencies. #}
    case when coalesce(i.invoice_currency_count, 0) <= 1 then coalesce(i.invoiced_amount, 0) end as invoiced_amount,
    case when coalesce(i.invoice_currency_count, 0) <= 1 then coalesce(i.paid_amount, 0) end as paid_amount,
    case when coalesce(i.invoice_currency_count, 0) <= 1 then coalesce(i.outstanding_amount, 0) end as outstanding_amount,
    case when coalesce(i.invoice_currency_count, 0) <= 1 then coalesce(i.written_off_amount, 0) end as written_off_amount,
{%- else %}
    {#- Invoices not loaded (or var rocketlane_using_invoices false): unknown, not zero. #}
    cast(null as {{ dbt.type_bigint() }}) as invoice_count,
    cast(null as {{ dbt.type_string() }}) as invoice_currency,
    cast(null as {{ dbt.type_bigint() }}) as invoice_currency_count,
    cast(null as {{ dbt.type_numeric() }}) as invoiced_amount,
    cast(null as {{ dbt.type_numeric() }}) as paid_amount,
    cast(null as {{ dbt.type_numeric() }}) as outstanding_amount,
    cast(null as {{ dbt.type_numeric() }}) as written_off_amount,
{%- endif %}
    case
        when p.due_date is null then null
        when p.is_completed
            then greatest({{ days_between('p.due_date', 'coalesce(p.due_date_actual, ' ~ as_of_date() ~ ')') }}, 0)
        else greatest({{ days_between('p.due_date', as_of_date()) }}, 0)
    end as days_late,
    p.created_at,
    p.updated_at{{ custom_field_columns(fields, 'cf') }}
from projects as p
left join tasks as t on t.project_id = p.project_id
left join phases as ph on ph.project_id = p.project_id
left join logged as l on l.project_id = p.project_id
{%- if invoices %}
left join invoiced as i on i.project_id = p.project_id
{%- endif %}
{%- if fields %}
left join custom_fields as cf on cf.object_id = p.project_id
{%- endif %}
