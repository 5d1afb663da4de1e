"""What the dbt marts should hold, computed in Python from the emulator's records.

Each function walks the records the emulator serves (`Emulator.truth`), day by day or entry by
entry, and never the SQL of transform/: the marts are checked against an independent reading of
the same definitions (the README's models page).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rocketlane_emulator import Emulator

# A completed task, by its label: the spec's default status for one ("the default status
# **Completed**", dueDateActual), whatever value the workspace gives it (the models count the
# values of var task_completed_status_values).
COMPLETED = "Completed"
WORKING_DAYS = 5  # var working_days_per_week
WEEKS_AHEAD = 12  # var weeks_ahead
UNDER_ALLOCATED_BELOW = 0.5  # var under_allocated_below
NOT_BILLED = ("DRAFT", "VOID")  # var invoice_statuses_not_billed
# The columns the emulator's custom fields get: their labels in snake_case, accents folded;
# None: nothing is left of the label (`field_<id>`).
FIELD_COLUMNS = {
    "Customer tier": "customer_tier", "Ticket ref 🎫": "ticket_ref", "Signed SOW": "signed_sow",
    "Needs review": "needs_review", "Région": "region", "Work type": "work_type",
    "Modules": "modules", "Labels": "labels", "Executive sponsor": "executive_sponsor",
    "Reviewer": "reviewer", "Stakeholders": "stakeholders", "Watchers": "watchers", "MRR": "mrr",
    "Story points": "story_points", "Kick-off notes": "kick_off_notes", "Bio": "bio",
    "Customer due date": "customer_due_date", "Start date": "start_date", "優先度メモ": None,
    "Onboarding note": "onboarding_note", "Complexity": "complexity", "Seniority": "seniority",
}  # fmt: skip


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def days(first: str, last: str | None):
    """Each date from `first` to `last` (ISO strings), both included."""
    day, end = date.fromisoformat(first), date.fromisoformat(last or first)
    while day <= end:
        yield day
        day += timedelta(days=1)


def live_time_entries(emu: Emulator) -> list[dict]:
    return [e for e in emu.truth("time-entries") if not e.get("deleted")]


def close(actual: Any, expected: float | None, tolerance: float = 0.01) -> bool:
    """A warehouse number (int, float, Decimal or its text) equals `expected` within `tolerance`."""
    if expected is None or actual is None:
        return actual is None and expected is None
    return math.isclose(float(str(actual)), expected, abs_tol=tolerance, rel_tol=1e-9)


def check_numbers(row: dict, expected: dict[str, float | None], what: object) -> None:
    for column, value in expected.items():
        assert close(row[column], value), (what, column, row[column], value)


# ------------------------------------------------------------------------------ projects
MONEY = (
    "invoice_count",
    "invoiced_amount",
    "paid_amount",
    "outstanding_amount",
    "written_off_amount",
)
PAYMENTS = {
    "paid_amount": "amountPaid",
    "outstanding_amount": "amountOutstanding",
    "written_off_amount": "amountWrittenOff",
}


def project_money(emu: Emulator, *, invoices: bool) -> dict[int, dict[str, Any]]:
    """Per project: fee, contract, Rocketlane's metrics, hours against the budget, cost and
    billable value of the live time entries at their rates, and (with `invoices`) the invoices'
    amounts, each invoice's paid/outstanding/written off split by its lines' share. Text columns
    under "_text"."""
    out = {p["projectId"]: _project_figures(p) for p in emu.truth("projects")}
    currencies: dict[int, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for entry in live_time_entries(emu):
        row = out[entry["project"]["projectId"]]
        hours = entry["minutes"] / 60
        row["hours_logged"] += hours
        row["hours_submitted"] += hours if entry.get("status") in ("SUBMITTED", "APPROVED") else 0
        row["hours_approved"] += hours if entry.get("status") == "APPROVED" else 0
        cost, bill = entry.get("costRate") or {}, entry.get("billRate") or {}
        if cost.get("rate") is None:
            row["minutes_without_cost_rate"] += entry["minutes"]
        else:
            row["time_cost"] += hours * cost["rate"]
            currencies[entry["project"]["projectId"]][0].add(cost.get("currency"))
        if entry.get("billable") and bill.get("rate") is None:
            row["minutes_billable_without_bill_rate"] += entry["minutes"]
        elif entry.get("billable"):
            row["time_billable_value"] += hours * bill["rate"]
            currencies[entry["project"]["projectId"]][1].add(bill.get("currency"))
    for project_id, row in out.items():
        budget = row["budgeted_hours"]
        row["budget_hours_remaining"] = None if budget is None else budget - row["hours_logged"]
        for view in ("", "_submitted", "_approved"):
            hours = row["hours_logged" if not view else f"hours{view}"]
            row[f"budget_burn{view}"] = hours / budget if budget else None
        row["budget_hours_used_ratio"] = row["budget_burn"]
        costs, bills = currencies[project_id]
        row["_text"]["time_cost_currency"] = _single(costs)
        row["_text"]["time_billable_currency"] = _single(bills)
        # No amount adds different currencies: NULL when they mix, with the count.
        row["time_cost_currency_count"], row["time_billable_currency_count"] = (
            len(costs),
            len(bills),
        )
        row["time_cost"] = row["time_cost"] if len(costs) <= 1 else None
        row["time_billable_value"] = row["time_billable_value"] if len(bills) <= 1 else None
        row.update(dict.fromkeys(MONEY, 0 if invoices else None))
        row["invoice_currency_count"] = 0 if invoices else None
        row["_text"]["invoice_currency"] = None
    if invoices:
        _add_invoices(emu, out)
    return out


def _single(values: set) -> Any:
    """The one value of a set, None when there are none or several."""
    return next(iter(values)) if len(values) == 1 else None


def _project_figures(project: dict) -> dict[str, Any]:
    financials = project.get("financials") or {}
    metrics = financials.get("metrics") or {}
    return {
        "project_fee": project.get("projectFee"),
        "progress_percentage": project.get("progressPercentage"),
        "budgeted_hours": project.get("budgetedHours"),
        "actual_revenue": metrics.get("actualRevenue"),
        "estimated_revenue": metrics.get("estimatedRevenue"),
        "actual_cost": metrics.get("actualCost"),
        "estimated_cost": metrics.get("estimatedCost"),
        "actual_profit": metrics.get("actualProfit"),
        "estimated_profit": metrics.get("estimatedProfit"),
        "actual_margin": metrics.get("actualProfit"),  # deprecated alias of actual_profit
        "estimated_margin": metrics.get("estimatedProfit"),
        "actual_margin_percent": metrics.get("actualProfitMargin"),
        "estimated_margin_percent": metrics.get("estimatedProfitMargin"),
        "hours_logged": 0.0,
        "hours_submitted": 0.0,
        "hours_approved": 0.0,
        "time_cost": 0.0,
        "time_billable_value": 0.0,
        "minutes_without_cost_rate": 0,
        "minutes_billable_without_bill_rate": 0,
        "_text": {
            # Running: In progress; closed: Completed or Cancelled (by label, as a lead reads them).
            "is_running": (project.get("status") or {}).get("label") == "In progress",
            "is_closed": (project.get("status") or {}).get("label") in (COMPLETED, "Cancelled"),
            "contract_type": financials.get("contractType"),
            "currency_code": (project.get("currency") or {}).get("currencyCode"),
        },
    }


def _add_invoices(emu: Emulator, out: dict[int, dict[str, Any]]) -> None:
    """Each project's lines (amount and tax) of invoices that bill, and that share of each
    invoice's paid, outstanding and written-off amounts."""
    billed: dict[tuple[int, int], float] = defaultdict(float)  # (invoice, project) -> lines
    for line in emu.truth("invoice-lines"):
        if line.get("sourceType") == "PROJECT" and line.get("sourceId") is not None:
            tax = (line.get("taxCode") or {}).get("taxCodeAmount") or 0
            billed[line["invoiceId"], line["sourceId"]] += line["amount"] + tax
    invoices = {i["invoiceId"]: i for i in emu.truth("invoices")}
    currencies: dict[int, set] = defaultdict(set)
    for (invoice_id, project_id), amount in billed.items():
        invoice = invoices[invoice_id]
        if invoice.get("status") in NOT_BILLED or project_id not in out:
            continue
        row = out[project_id]
        row["invoice_count"] += 1
        row["invoiced_amount"] += amount
        if invoice.get("amount"):
            for column, key in PAYMENTS.items():
                row[column] += (invoice.get(key) or 0) * amount / invoice["amount"]
        currencies[project_id].add(invoice.get("currency"))
    for project_id, found in currencies.items():
        out[project_id]["_text"]["invoice_currency"] = _single(found)
        out[project_id]["invoice_currency_count"] = len(found)
        if len(found) > 1:
            out[project_id].update(dict.fromkeys(MONEY[1:]))


def currency_amounts(emu: Emulator, *, invoices: bool) -> dict[tuple[int, str], dict[str, Any]]:
    """Per project and currency: time cost and billable value at rates in that currency (and
    their minutes), and with `invoices` what invoices in that currency billed and their share of
    paid, outstanding and written off."""
    zero = {"time_cost": 0.0, "minutes_at_cost_rate": 0, "time_billable_value": 0.0,
            "minutes_at_bill_rate": 0, **dict.fromkeys(MONEY, 0 if invoices else None)}  # fmt: skip
    out: dict[tuple[int, str], dict[str, Any]] = defaultdict(lambda: dict(zero))
    projects = emu.ids("projects")  # live ones: a deleted project's amounts are in no row
    for entry in live_time_entries(emu):
        project, hours = entry["project"]["projectId"], entry["minutes"] / 60
        if project not in projects:
            continue
        cost, bill = entry.get("costRate") or {}, entry.get("billRate") or {}
        if cost.get("rate") is not None and cost.get("currency"):
            row = out[project, cost["currency"]]
            row["time_cost"] += hours * cost["rate"]
            row["minutes_at_cost_rate"] += entry["minutes"]
        if entry.get("billable") and bill.get("rate") is not None and bill.get("currency"):
            row = out[project, bill["currency"]]
            row["time_billable_value"] += hours * bill["rate"]
            row["minutes_at_bill_rate"] += entry["minutes"]
    if invoices:
        _currency_invoices(emu, out)
    return dict(out)


def _currency_invoices(emu: Emulator, out: dict[tuple[int, str], dict[str, Any]]) -> None:
    """Each live project's lines of invoices that bill, per invoice currency."""
    projects = emu.ids("projects")
    billed: dict[tuple[int, int], float] = defaultdict(float)
    for line in emu.truth("invoice-lines"):
        if line.get("sourceType") == "PROJECT" and line.get("sourceId") is not None:
            tax = (line.get("taxCode") or {}).get("taxCodeAmount") or 0
            billed[line["invoiceId"], line["sourceId"]] += line["amount"] + tax
    by_id = {i["invoiceId"]: i for i in emu.truth("invoices")}
    for (invoice_id, project_id), amount in billed.items():
        invoice = by_id[invoice_id]
        if invoice.get("status") in NOT_BILLED or project_id not in projects:
            continue
        if not invoice.get("currency"):
            continue
        row = out[project_id, invoice["currency"]]
        row["invoice_count"] += 1
        row["invoiced_amount"] += amount
        if invoice.get("amount"):
            for column, key in PAYMENTS.items():
                row[column] += (invoice.get(key) or 0) * amount / invoice["amount"]


# ------------------------------------------------------------------------------- users
def users(emu: Emulator) -> dict[int, dict[str, Any]]:
    """Per user: capacity, projects owned, tasks assigned (and open), time logged."""
    out = {
        u["userId"]: {
            "capacity_minutes": u.get("capacityInMinutes"),
            "projects_owned": 0,
            "tasks_assigned": 0,
            "tasks_assigned_open": 0,
            "minutes_logged": 0,
            "minutes_billable": 0,
            "_days": [],
        }
        for u in emu.truth("users")
    }
    for project in emu.truth("projects"):
        owner = (project.get("owner") or {}).get("userId")
        if owner in out:
            out[owner]["projects_owned"] += 1
    for task in emu.truth("tasks"):
        done = (task.get("status") or {}).get("label") == COMPLETED
        for member in (task.get("assignees") or {}).get("members") or []:
            if member["userId"] in out:
                out[member["userId"]]["tasks_assigned"] += 1
                out[member["userId"]]["tasks_assigned_open"] += not done
    for entry in live_time_entries(emu):
        row = out.get(entry["user"]["userId"])
        if row is not None:
            row["minutes_logged"] += entry["minutes"]
            row["minutes_billable"] += entry["minutes"] if entry.get("billable") else 0
            row["_days"].append(entry["date"])
    for row in out.values():
        found = row.pop("_days")
        row["_text"] = {
            "first_logged_on": min(found) if found else None,
            "last_logged_on": max(found) if found else None,
        }
    return out


# -------------------------------------------------------------------------- weeks ahead
def time_off_by_day(emu: Emulator) -> dict[tuple[int, date], float]:
    """Per (user, working day): the minutes of time off, every record's minutes per day summed,
    at most a day's capacity (capacityInMinutes / WORKING_DAYS; unbounded without a capacity)."""
    capacity = {u["userId"]: u.get("capacityInMinutes") for u in emu.truth("users")}
    off: dict[tuple[int, date], float] = defaultdict(float)
    for record in emu.truth("time-offs"):
        for day in days(record["startDate"], record.get("endDate")):
            if day.weekday() < WORKING_DAYS:
                off[record["user"]["userId"], day] += record.get("durationInMinutes") or 0
    for (user_id, day), minutes in off.items():
        if capacity.get(user_id) is not None:
            off[user_id, day] = min(minutes, capacity[user_id] / WORKING_DAYS)
    return dict(off)


def time_offs_beyond_a_day(emu: Emulator) -> set[int]:
    """The time offs whose minutes per day exceed their user's day (capacity / WORKING_DAYS)."""
    capacity = {u["userId"]: u.get("capacityInMinutes") for u in emu.truth("users")}
    return {
        r["timeOffId"]
        for r in emu.truth("time-offs")
        if capacity.get(r["user"]["userId"]) is not None
        and (r.get("durationInMinutes") or 0) > capacity[r["user"]["userId"]] / WORKING_DAYS
    }


def _working_days(first: str, last: str | None, start: date, end: date):
    """The working days (Monday to Friday) from `first` to `last` between `start` and `end`."""
    for day in days(first, last):
        if start <= day <= end and day.weekday() < WORKING_DAYS:
            yield day


def _planned(emu: Emulator, start: date, end: date) -> tuple[dict, dict]:
    """Per (member, week): [allocated, hard-allocated] minutes, and the projects."""
    planned: dict[tuple[int, date], list[float]] = defaultdict(lambda: [0.0, 0.0])
    projects: dict[tuple[int, date], set] = defaultdict(set)
    for record in emu.truth("resource-allocations"):
        if not record.get("member"):
            continue
        minutes = record.get("minutesPerDay")
        if minutes is None:
            minutes = record["secondsPerDay"] / 60
        for day in _working_days(record["startDate"], record["endDate"], start, end):
            key = (record["member"]["userId"], week_of(day))
            planned[key][0] += minutes
            planned[key][1] += minutes if record.get("allocationType") == "HARD" else 0
            projects[key].add(record["project"]["projectId"])
    return planned, projects


def _status(available: int | None, allocated: float | None) -> tuple[bool | None, str | None]:
    if available is None or allocated is None:
        return None, None
    if allocated > available:
        return True, "over"
    return False, "under" if allocated < available * UNDER_ALLOCATED_BELOW else "within"


def weeks_ahead(emu: Emulator, as_of: date, *, allocations: bool) -> dict[tuple[int, str], dict]:
    """Per person and week from as_of's week for WEEKS_AHEAD more: capacity, time off (its
    minutes per day on each working day), available, and each member allocation's minutes per
    day on each working day of the week inside its dates."""
    first = week_of(as_of)
    weeks = [first + timedelta(days=7 * k) for k in range(WEEKS_AHEAD + 1)]
    last = weeks[-1] + timedelta(days=6)
    off: dict[tuple[int, date], float] = defaultdict(float)
    for (user_id, day), minutes in time_off_by_day(emu).items():
        if first <= day <= last:
            off[user_id, week_of(day)] += minutes
    planned, projects = _planned(emu, first, last) if allocations else ({}, {})
    users_by_id = {u["userId"]: u for u in emu.truth("users")}
    people = {uid for uid, u in users_by_id.items() if u.get("capacityInMinutes") is not None}
    people |= {uid for uid, _ in planned} & set(users_by_id)
    out = {}
    for uid in people:
        capacity = users_by_id[uid].get("capacityInMinutes")
        for k, week in enumerate(weeks):
            time_off = off.get((uid, week), 0)
            available = None if capacity is None else max(capacity - time_off, 0)
            allocated, hard = planned.get((uid, week), (0.0, 0.0)) if allocations else (None, 0)
            over, status = _status(available, allocated)
            out[uid, week.isoformat()] = {
                "weeks_ahead": k,
                "iso_year": week.isocalendar()[0],
                "iso_week": week.isocalendar()[1],
                "capacity_minutes": capacity,
                "time_off_minutes": time_off,
                "available_minutes": available,
                "allocated_minutes": allocated,
                "hard_allocated_minutes": hard if allocations else None,
                "soft_allocated_minutes": None if allocated is None else allocated - hard,
                "projects_allocated": len(projects.get((uid, week), ())) if allocations else None,
                "unallocated_minutes": None
                if available is None or allocated is None
                else available - allocated,
                "allocation_ratio": allocated / available
                if allocated is not None and available
                else None,
                "_text": {"is_over_allocated": over, "allocation_status": status},
            }
    return out


def weeks_ahead_allocations(emu: Emulator, as_of: date) -> dict[tuple[int, str, int], dict]:
    """Per (member, week, project) from as_of's week for WEEKS_AHEAD more: hard and soft minutes
    (each allocation's minutes per day on each working day of the week inside its dates), and
    whether the project is Completed or Cancelled."""
    first = week_of(as_of)
    last = first + timedelta(days=7 * WEEKS_AHEAD + 6)
    closed = {
        p["projectId"]: (p.get("status") or {}).get("label") in (COMPLETED, "Cancelled")
        for p in emu.truth("projects")
    }
    out: dict[tuple[int, str, int], dict] = {}
    for record in emu.truth("resource-allocations"):
        if not record.get("member"):
            continue
        minutes = record.get("minutesPerDay")
        if minutes is None:
            minutes = record["secondsPerDay"] / 60
        project = record["project"]["projectId"]
        for day in _working_days(record["startDate"], record["endDate"], first, last):
            key = (record["member"]["userId"], week_of(day).isoformat(), project)
            row = out.setdefault(key, {
                "weeks_ahead": (week_of(day) - first).days // 7, "hard_allocated_minutes": 0.0,
                "soft_allocated_minutes": 0.0, "_text": {"project_is_closed": closed.get(project)},
            })  # fmt: skip
            kind = "hard" if record.get("allocationType") == "HARD" else "soft"
            row[f"{kind}_allocated_minutes"] += minutes
    return out


# ------------------------------------------------------------------------- custom fields
def custom_field_columns(emu: Emulator, object_type: str) -> dict[int, dict]:
    """The enabled custom fields of `object_type`: column name -> (field type, field id), with
    `<name>_user_id(s)` for user fields (field type USER_ID or USER_IDS)."""
    columns: dict[str, tuple[str, int]] = {}
    for field in sorted(emu.truth("fields"), key=lambda f: f["fieldId"]):
        if field["objectType"] != object_type or field.get("enabled") is False:
            continue
        name = FIELD_COLUMNS[field["fieldLabel"]] or f"field_{field['fieldId']}"
        columns[name] = (field["fieldType"], field["fieldId"])
        if field["fieldType"] == "SINGLE_USER":
            columns[f"{name}_user_id"] = ("USER_ID", field["fieldId"])
        if field["fieldType"] == "MULTIPLE_USER":
            columns[f"{name}_user_ids"] = ("USER_IDS", field["fieldId"])
    return columns


def custom_field_values(emu: Emulator, records: list[dict], object_type: str, key: str) -> dict:
    """Per record: each custom field column's value, typed by its field type."""
    columns = custom_field_columns(emu, object_type)
    by_email = {u["email"].lower(): u["userId"] for u in emu.truth("users")}
    out = {}
    for record in records:
        entries = {f["fieldId"]: f for f in record.get("fields") or []}
        row = {}
        for name, (kind, field_id) in columns.items():
            entry = entries.get(field_id) or {}
            value, label = entry.get("fieldValue"), entry.get("fieldValueLabel")
            if value is None:
                row[name] = None
            elif kind in ("NUMBER", "RATING"):
                row[name] = float(value)
            elif kind == "YES_OR_NO":
                row[name] = value in (True, "true", "Yes")
            elif kind in ("SINGLE_CHOICE", "MULTIPLE_CHOICE", "SINGLE_USER", "MULTIPLE_USER"):
                row[name] = label
            elif kind == "USER_ID":
                row[name] = value.get("userId") if isinstance(value, dict) else None
            elif kind == "USER_IDS":
                ids = sorted(by_email[v.lower()] for v in value if v.lower() in by_email)
                row[name] = ", ".join(str(i) for i in ids) or None
            else:  # TEXT, MULTI_LINE_TEXT, NOTE, DATE (as its ISO text)
                row[name] = value
        out[record[key]] = row
    return out


def check_custom_fields(rows: list[dict], expected: dict, key: str) -> None:
    """Every custom field column of a mart holds the expected value."""
    by_key = {row[key]: row for row in rows}
    assert set(by_key) == set(expected)
    for record_id, values in expected.items():
        row = by_key[record_id]
        for name, value in values.items():
            actual = row[name]
            if isinstance(value, float):
                assert close(actual, value, 1e-6), (record_id, name, actual, value)
            elif isinstance(value, bool) or value is None:
                assert actual is value, (record_id, name, actual, value)
            else:
                assert str(actual) == str(value), (record_id, name, actual, value)
