"""Data of the opt-in lists: invoices with their lines and payments, resource allocations,
time-entry categories, conversations and comments.

Built after the nine resources, from their records (projects, users, tasks). Each list draws
from generators of its own (``_Generator.stream``), so the nine, and each other list, come out
exactly as before whatever is added to one of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .data import (
    _ISO_DATES,
    CATEGORIES,
    COMPLETED,
    CURRENCIES,
    CUSTOMER_COMPANIES,
    CUSTOMER_COMPANY_BASE,
    END_MS,
    HOME_COMPANY_ID,
    HOME_COMPANY_NAME,
    IN_PROGRESS,
    NOT_STARTED,
    PHRASES,
    PLACEHOLDERS,
    ROLES,
    START_MS,
    TODAY_INDEX,
    WORKING_DAYS,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from random import Random

    from .data import _Generator

Record = dict[str, Any]
#: An allocation before it is a record: (project index, member or placeholder, is a member,
#: first day, days, minutes per day).
Allocation = tuple[int, Record, bool, int, int, int]

ID_BASES = {
    "invoices": 40_000_000_000,
    "invoice-lines": 41_000_000_000,
    "invoice-payments": 42_000_000_000,
    "resource-allocations": 43_000_000_000,  # the emulator's own row ids: the API sends none
    "conversations": 44_000_000_000,
    "comments": 45_000_000_000,
}
INVOICE_STATUSES = ("DRAFT", "SENT", "OVERDUE")  # before payment; PAID/PARTIALLY_PAID follow it
TAX_CODES = ((501, "GST 18%", 18.0), (502, "VAT 20%", 20.0), (503, "Zero rated", 0.0))
CONVERSATION_NAMES = ("General chat", "Kick-off 🚀", "Go-live war room", "Données & migration")


def _money(value: float) -> float:
    return round(value, 2)


class _Extra:
    """One method per opt-in resource, in dependency order."""

    def __init__(self, gen: _Generator) -> None:
        self.gen = gen
        self.scale = gen.scale
        self.out = gen.out
        roles = {u["userId"]: u["role"] for u in gen.out["users"]}
        self.members = [{**ref, "role": roles.get(ref["userId"])} for ref in gen.team_refs]
        self.placeholders = [
            {
                "placeholderId": pid,
                "placeholderName": name,
                "role": {"roleId": role, "roleName": dict(ROLES)[role]},
            }
            for pid, name, role in PLACEHOLDERS
        ]

    # ----------------------------------------------------------------- helpers
    def _ids(self, resource: str, n: int) -> list[int]:
        """Ascending ids with small random gaps, like the nine resources' ids."""
        random = self.gen.stream(f"{resource}:ids").random
        current, ids = ID_BASES[resource] + self.gen.id_offset, []
        for _ in range(n):
            current += 1 + int(random() * 3)
            ids.append(current)
        return ids

    def _timestamps(self, resource: str, n: int) -> list[tuple[int, int]]:
        """(createdAt, updatedAt) pairs; createdAt ascends with the id."""
        random = self.gen.stream(f"{resource}:timestamps").random
        created = sorted(START_MS + int(random() * (END_MS - START_MS) * 0.9) for _ in range(n))
        return [(c, c + int((END_MS - c) * random() ** 3)) for c in created]

    def _user(self, rng: Random) -> Record:
        return rng.choice(self.gen.team_refs)

    # --------------------------------------------------------------- resources
    def categories(self) -> None:
        """The time-entry categories that tasks and time entries refer to."""
        self.out["time-entry-categories"] = [
            {"categoryName": name, "categoryId": category_id} for category_id, name in CATEGORIES
        ]

    def invoices(self) -> None:
        """Invoices of customer companies for one to three projects, with lines and payments.

        Built together (an invoice's amounts add up its lines and payments), each of the three
        with a generator of its own.
        """
        rng, n = self.gen.stream("invoices"), self.scale.invoices
        line_rng = self.gen.stream("invoice-lines")
        payment_rng = self.gen.stream("invoice-payments")
        # Invoices bill the projects that are billed: not the non-billable ones.
        billed_projects = [
            ref
            for ref, project in zip(self.gen.project_refs, self.out["projects"], strict=True)
            if project["financials"]["contractType"] != "NON_BILLABLE"
        ]
        projects = billed_projects or self.gen.project_refs
        invoices, lines, payments = [], [], []
        line_counts = [line_rng.randint(1, 4) for _ in range(n)]
        big = self.scale.big_invoice_lines
        if big and n > 1:
            line_counts[n // 2] = big  # more lines than one page holds
        line_ids = iter(self._ids("invoice-lines", sum(line_counts)))
        payment_counts = [payment_rng.choice((0, 0, 1, 1, 2, 3)) for _ in range(n)]
        payment_ids = iter(self._ids("invoice-payments", sum(payment_counts)))
        rows = zip(self._ids("invoices", n), self._timestamps("invoices", n), strict=True)
        for i, (invoice_id, (created, updated)) in enumerate(rows):
            currency = rng.choice(CURRENCIES)
            billed = rng.sample(projects, min(len(projects), rng.randint(1, 3)))
            issue = rng.randrange(len(_ISO_DATES) - 400)
            own_lines = [
                self._line(line_rng, next(line_ids), invoice_id, line_rng.choice(billed))
                for _ in range(line_counts[i])
            ]
            lines.extend(own_lines)
            sub_total = _money(sum(line["amount"] for line in own_lines))
            tax = _money(sum((line["taxCode"] or {}).get("taxCodeAmount", 0) for line in own_lines))
            amount = _money(sub_total + tax)
            own_payments = self._payments(
                payment_rng, payment_ids, payment_counts[i], invoice_id=invoice_id, amount=amount,
                currency=currency, issue=issue,
            )  # fmt: skip
            payments.extend(own_payments)
            kinds = [(p["paymentRecordType"], p["amount"]) for p in own_payments]
            paid = _money(sum(value for kind, value in kinds if kind == "PAID"))
            written_off = _money(sum(value for kind, value in kinds if kind == "WRITE_OFF"))
            outstanding = _money(amount - paid - written_off)
            status = rng.choice(INVOICE_STATUSES)
            if own_payments:
                status = "PAID" if outstanding <= 0 else "PARTIALLY_PAID"
            k = rng.randrange(len(CUSTOMER_COMPANIES))
            invoices.append(
                {
                    "invoiceId": invoice_id,
                    "invoiceNumber": f"INV-{2024 + issue // 366}-{i + 1:04d}",
                    "dateOfIssue": _ISO_DATES[issue],
                    "dueDate": _ISO_DATES[issue + rng.choice((15, 30, 45, 60))],
                    "currency": currency,
                    "status": status,
                    "amount": amount,
                    "tax": tax,
                    "subTotal": sub_total,
                    "amountOutstanding": max(0.0, outstanding),
                    "amountPaid": paid,
                    "amountWrittenOff": written_off,
                    "notes": f"{rng.choice(PHRASES)} — merci 🙏" if rng.random() < 0.6 else None,
                    "createdAt": created,
                    "updatedAt": updated,
                    "createdBy": self._user(rng),
                    "updatedBy": self._user(rng),
                    "company": {
                        "companyId": self.gen.company_id(CUSTOMER_COMPANY_BASE, k),
                        "companyName": CUSTOMER_COMPANIES[k][0],
                        "companyUrl": CUSTOMER_COMPANIES[k][1],
                    },
                    "projects": billed,
                    "fields": [
                        {
                            "fieldId": self.gen.id_offset + 3_000_000_900,
                            "fieldLabel": "PO number",
                            "fieldValue": f"PO-{7000 + i}",
                            "fieldValueLabel": f"PO-{7000 + i}",
                        }
                    ]
                    if i % 3
                    else [],
                    "attachments": self._attachments(rng, created, "invoice.pdf"),
                }
            )
        self.out["invoices"] = invoices
        self.out["invoice-lines"] = lines
        self.out["invoice-payments"] = payments

    def _line(self, rng: Random, line_id: int, invoice_id: int, project: Record) -> Record:
        quantity = rng.choice((1, 2, 5, 7.5, 10, 40))
        unit_price = rng.choice((80, 120.5, 150, 1_000, 2_499.99))
        amount = _money(quantity * unit_price)
        tax = rng.choice((*TAX_CODES, None))
        tax_code = None
        components: list[Record] = []
        if tax is not None:
            tax_amount = _money(amount * tax[2] / 100)
            tax_code = {
                "taxCodeId": tax[0],
                "taxCodeName": tax[1],
                "taxCodeRate": tax[2],
                "taxCodeAmount": tax_amount,
            }
            halves = (_money(tax_amount / 2), _money(tax_amount - _money(tax_amount / 2)))
            components = [
                {
                    "taxComponentId": tax[0] * 10 + k,
                    "taxComponentName": name,
                    "taxComponentRate": tax[2] / 2,
                    "taxComponentAmount": part,
                    "taxComponentType": "GST" if tax[0] == 501 else "VAT",
                }
                for k, (name, part) in enumerate(zip(("CGST", "SGST"), halves, strict=True))
            ]
        manual = rng.random() < 0.15  # not tied to a project: no source
        return {
            "invoiceLineItemId": line_id,
            "description": f"{rng.choice(PHRASES)} ({quantity} h)",
            "quantity": quantity,
            "unitPrice": unit_price,
            "amount": amount,
            "sourceId": None if manual else project["projectId"],
            "sourceType": None if manual else "PROJECT",
            "taxCode": tax_code,
            "taxComponents": components,
            "invoiceId": invoice_id,  # the emulator's: the API sends lines without it
        }

    def _payments(  # noqa: PLR0913 - one invoice's facts
        self,
        rng: Random,
        ids: Iterator[int],
        count: int,
        *,
        invoice_id: int,
        amount: float,
        currency: str,
        issue: int,
    ) -> list[Record]:
        records, left = [], amount
        for k in range(count):
            last = k == count - 1
            part = left if last and rng.random() < 0.6 else _money(left * rng.uniform(0.2, 0.6))
            left = _money(left - part)
            write_off = last and rng.random() < 0.2
            records.append(
                {
                    "paymentId": next(ids),
                    "paymentRecordType": "WRITE_OFF" if write_off else "PAID",
                    "currency": currency,
                    "paymentDate": _ISO_DATES[issue + 5 + 10 * k],
                    "amount": part,
                    "notes": None if rng.random() < 0.5 else f"Wire ref {invoice_id % 10_000}-{k}",
                    "invoiceId": invoice_id,  # the emulator's: the API sends payments without it
                }
            )
        return records

    def _attachments(self, rng: Random, created: int, name: str) -> list[Record]:
        if rng.random() < 0.6:
            return []
        attachment_id = 600_000 + int(rng.random() * 100_000)
        location = f"https://rocketlane.example/attachments/{attachment_id}/{name}"
        return [
            {
                "attachmentId": attachment_id,
                "attachmentName": name,
                "createdAt": created,
                "location": location,
                "thumbLocation": location.replace(name, f"thumb_{name}"),
                "visibility": rng.random() < 0.5,
            }
        ]

    def allocations(self) -> None:
        """The team planned on projects: each active person on one or two projects at a time,
        from four weeks back to sixteen ahead, most of them between 60% and 95% of their
        capacity and a few over it in the next four weeks; placeholders for roles not yet
        staffed; the rest of ``scale.resource_allocations`` scattered over the projects' past,
        some of them far ahead."""
        n = self.scale.resource_allocations
        # The plan around today first, from a generator of its own: the plan stays as it is
        # whatever the scattered past allocations or an allocation's other properties draw.
        planned = sorted(self._plan_ahead(), key=lambda item: item[0])[: n * 4 // 5]
        rng = self.gen.stream("resource-allocations")
        drafts = [draft for _, draft in planned]
        projects, starts = self.gen.project_refs, self.gen.project_start_days
        for _ in range(n - len(drafts)):
            p = rng.randrange(len(projects))
            member = rng.random() < 0.8
            who = rng.choice(self.members) if member else rng.choice(self.placeholders)
            begin = starts[p] + rng.randrange(0, 400)  # plans run up to 13 months past the start
            drafts.append(
                (p, who, member, begin, rng.randint(1, 60), rng.choice((60, 120, 240, 480)))
            )
        records, keys = [], set()
        rows = zip(
            self._ids("resource-allocations", n),
            self._timestamps("resource-allocations", n),
            drafts,
            strict=True,
        )
        for allocation_id, (stamp, updated), (p, who, member, begin, days, minutes) in rows:
            tasks = self.gen.tasks_by_project[p]
            # A key made of these must be unique, as the tap's is; a real API could not
            # tell two such allocations apart either.
            created = stamp
            while (key := (p, member, _who_id(who), begin, created)) in keys:
                created += 1
            keys.add(key)
            weekdays = max(1, round(days * 5 / 7))
            records.append(
                {
                    "allocationId": allocation_id,  # the emulator's: the API sends none
                    "startDate": _ISO_DATES[begin],
                    "endDate": _ISO_DATES[begin + days - 1],
                    "secondsPerDay": minutes * 60,
                    "minutesPerDay": minutes,
                    "hoursPerDay": minutes // 60,
                    "duration": {
                        "daysConsider": weekdays,
                        "seconds": weekdays * minutes * 60,
                        "minutes": weekdays * minutes,
                        "hours": weekdays * minutes // 60,
                    },
                    "allocationType": rng.choice(("HARD", "HARD", "SOFT")),
                    "allocationFor": "TEAM_MEMBER" if member else "PLACEHOLDER",
                    "project": projects[p],
                    "tasks": rng.sample(tasks, min(len(tasks), rng.randint(0, 2))),
                    "member": who if member else None,
                    "placeholder": None if member else who,
                    "createdAt": created,
                    "updatedAt": max(created, updated),
                    "createdBy": self._user(rng),
                    "updatedBy": self._user(rng),
                }
            )
        self.out["resource-allocations"] = records

    def _plan_ahead(self) -> list[tuple[tuple[int, int], Allocation]]:
        """(priority, allocation) of the plan around TODAY, the most telling first: the
        over-allocations, then by distance from this week (a small scale keeps those)."""
        rng, gen = self.gen.stream("resource-allocations:plan"), self.gen
        members = {m["userId"]: m for m in self.members}
        running = [
            p
            for p, project in enumerate(gen.out["projects"])
            if project["status"]["value"] in (NOT_STARTED, IN_PROGRESS)
        ] or list(range(len(gen.project_refs)))
        monday = TODAY_INDEX - TODAY_INDEX % 7  # day 0 is a Monday
        first, horizon = monday - 4 * 7, monday + 16 * 7
        people = gen.loggers()
        over = set(rng.sample(range(len(people)), max(1, len(people) // 6)))
        out: list[tuple[tuple[int, int], Allocation]] = []
        for k, (ref, capacity) in enumerate(people):
            who = members.get(ref["userId"], ref)
            daily = capacity // WORKING_DAYS
            total = rng.uniform(0.8, 0.95) if k in over else rng.uniform(0.6, 0.95)
            lanes = [total] if rng.random() < 0.4 else [total * 0.6, total * 0.4]
            planned = 0
            for share in lanes:
                minutes = max(30, 30 * int(daily * share / 30))  # rounded down: under capacity
                planned += minutes
                day = first - 7 * rng.randint(0, 3)
                while day < horizon:
                    weeks = rng.randint(2, 6)
                    allocation = (rng.choice(running), who, True, day, 7 * weeks - 2, minutes)
                    out.append(((1, abs(day - monday)), allocation))
                    day += 7 * weeks
            if k in over:  # one more project in the next four weeks, beyond capacity
                day = monday + 7 * rng.randint(1, 3)
                minutes = daily - planned + 30 * rng.randint(2, 6)
                allocation = (
                    rng.choice(running),
                    who,
                    True,
                    day,
                    7 * rng.randint(1, 2) - 2,
                    minutes,
                )
                out.append(((0, 0), allocation))
        closed = [
            p
            for p, project in enumerate(gen.out["projects"])
            if project["status"]["value"] == COMPLETED
        ]
        for _ in range(max(1, len(people) // 6) if closed else 0):
            # Plans left behind on projects closed since: real plans are rarely cleaned up,
            # and a report of the weeks ahead must not count them.
            ref, capacity = rng.choice(people)
            day = monday + 7 * rng.randint(0, 3)
            minutes = 30 * rng.randint(2, 8)
            allocation = (
                rng.choice(closed),
                members.get(ref["userId"], ref),
                True,
                day,
                12,
                minutes,
            )
            out.append(((0, 1), allocation))
        for _ in range(max(1, len(people) // 3)):  # demand not yet staffed
            day = monday + 7 * rng.randint(0, 12)
            minutes = rng.choice((120, 240, 480))
            allocation = (
                rng.choice(running),
                rng.choice(self.placeholders),
                False,
                day,
                7 * rng.randint(2, 6) - 2,
                minutes,
            )
            out.append(((1, abs(day - monday)), allocation))
        return out

    def conversations(self) -> None:
        """Project conversations: a conversation's source is always its project."""
        rng, n = self.gen.stream("conversations"), self.scale.conversations
        projects = self.gen.project_refs
        records = []
        rows = zip(self._ids("conversations", n), self._timestamps("conversations", n), strict=True)
        for i, (conversation_id, (created, _updated)) in enumerate(rows):
            everyone = rng.random() < 0.4
            team = self.gen.team_refs
            name = CONVERSATION_NAMES[i % len(CONVERSATION_NAMES)]
            records.append(
                {
                    "conversationName": f"{name} #{i + 1}",
                    "description": rng.choice(PHRASES) if rng.random() < 0.7 else None,
                    "allMembers": everyone,
                    "members": [] if everyone else rng.sample(team, min(3, len(team))),
                    "source": {
                        "sourceId": rng.choice(projects)["projectId"],
                        "sourceType": "PROJECT_CONVERSATION",
                    },
                    "conversationId": conversation_id,
                    "createdAt": created,
                    "private": rng.random() < 0.25,
                }
            )
        self.out["conversations"] = records

    def comments(self) -> None:
        """Comments on tasks and in project conversations."""
        rng, n = self.gen.stream("comments"), self.scale.comments
        tasks, conversations = self.out["tasks"], self.out["conversations"]
        records = []
        rows = zip(self._ids("comments", n), self._timestamps("comments", n), strict=True)
        for comment_id, (created, _updated) in rows:
            on_task = not conversations or (tasks and rng.random() < 0.65)
            source = (
                {"sourceId": rng.choice(tasks)["taskId"], "sourceType": "TASK"}
                if on_task
                else {
                    "sourceId": rng.choice(conversations)["conversationId"],
                    "sourceType": "PROJECT_CONVERSATIONS",
                }
            )
            records.append(
                {
                    "commentId": comment_id,
                    "content": f"<p>{rng.choice(PHRASES)}</p>",
                    "createdAt": created,
                    "createdBy": self._user(rng),
                    "source": source,
                    "attachments": self._attachments(rng, created, "screenshot.png"),
                    "private": rng.random() < 0.1,
                }
            )
        self.out["comments"] = records

    def companies(self) -> None:
        """`GET /companies` (not in the spec): the workspace's own company, then its customers.

        In the live capture's shape: the vendor (the workspace's company) has no createdBy or
        updatedBy; a customer company has createdBy, and updatedBy once edited. Partner
        companies are not listed: no capture shows which type they would have.
        """
        rng, gen = self.gen.stream("companies"), self.gen
        companies = [(gen.id_offset + HOME_COMPANY_ID, HOME_COMPANY_NAME, "VENDOR")]
        companies += [
            (gen.company_id(CUSTOMER_COMPANY_BASE, k), name, "CUSTOMER")
            for k, (name, _url) in enumerate(CUSTOMER_COMPANIES)
        ]
        records = []
        for (company_id, name, kind), (created, updated) in zip(
            companies, self._timestamps("companies", len(companies)), strict=True
        ):
            record: Record = {
                "companyId": company_id,
                "companyName": name,
                "companyType": kind,
                "createdAt": created,
                "updatedAt": updated,
            }
            if kind == "CUSTOMER":
                record["createdBy"] = gen.user_refs[0]
                if rng.random() < 0.5:
                    record["updatedBy"] = self._user(rng)
            records.append(record)
        self.out["companies"] = records


def _who_id(who: Record) -> int:
    return int(who.get("userId") or who["placeholderId"])


def add_opt_in_resources(gen: _Generator) -> None:
    """Add the opt-in resources to ``gen.out``."""
    extra = _Extra(gen)
    extra.categories()
    extra.invoices()
    extra.allocations()
    extra.conversations()
    extra.comments()
    extra.companies()
