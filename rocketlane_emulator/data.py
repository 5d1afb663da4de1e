"""Deterministic fake Rocketlane workspace.

The generator here builds the nine resources' records in their *full* shape (all optional
properties and the custom ``fields`` array); the server projects records down
to what a request asked for.  Each resource draws from random generators of its own, seeded
from (seed, resource) (:func:`stream_of`), so a seed and a :class:`Scale` always give the same
data, and a change to one resource's draws changes only it and the resources that read its
values (tests/test_emulator_locality.py lists them).

Memory matters at large scale (60k tasks), so small immutable-by-convention
sub-objects (user references, statuses, custom-field entries, long HTML
descriptions...) are shared between records.  Nothing in the package mutates a
nested object; :meth:`Emulator.touch` only replaces top-level values.
"""

# The text pools deliberately contain look-alike Unicode characters.
# ruff: noqa: RUF001

from __future__ import annotations

import datetime as dt
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from itertools import pairwise
from random import Random
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

Record = dict[str, Any]
_T = TypeVar("_T")

START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z, a Monday
END_MS = 1_767_225_599_999  # 2025-12-31T23:59:59.999Z
_DAY_MS = 86_400_000
_POOL = 64  # size of the pools that shared sub-objects are drawn from
_START_DATE = dt.date(2024, 1, 1)
_DAYS = 731  # 2024-01-01 .. 2025-12-31
# ISO strings for every day we may need (plans can run past 2025).
_ISO_DATES = [(_START_DATE + dt.timedelta(days=i)).isoformat() for i in range(_DAYS + 400)]
#: "Today" in the generated workspace, a Friday: the team has logged time up to it and
#: allocations plan the weeks after it. Models asked about "this week" of the emulator's data
#: take it as their as-of date (the demo does).
TODAY = dt.date(2025, 12, 12)
TODAY_INDEX = (TODAY - _START_DATE).days
WORKING_DAYS = 5  # Monday to Friday: a week's capacity is spread over these

# First natural id per resource: distinct ranges, most beyond 2**32, so clients
# that squeeze ids into int32 break visibly.  User ids straddle 2**31.
ID_BASES = {
    "users": 2_147_483_600,
    "fields": 3_000_000_000,
    "projects": 5_000_000_000,
    "phases": 6_000_000_000,
    "spaces": 7_000_000_000,
    "space-documents": 8_000_000_000,
    "tasks": 10_000_000_000,
    "time-entries": 20_000_000_000,
    "time-offs": 30_000_000_000,
}


@dataclass(frozen=True)
class Scale:
    """Record counts for one generated workspace."""

    users: int = 25
    projects: int = 12
    tasks: int = 600
    time_entries: int = 1_500  # about four months of the team's time
    time_offs: int = 40
    phases_per_project: int = 3  # ±1 per project
    spaces_per_project: int = 2
    documents_per_project: int = 3
    # (phases, spaces, space documents) of one extra-large project, or None.
    big_project: tuple[int, int, int] | None = (130, 105, 110)
    # One project with no phases, spaces or space documents.
    empty_project: bool = True
    # The opt-in lists (extra.py); invoices have 1-4 lines and 0-3 payments.
    invoices: int = 20
    big_invoice_lines: int | None = 105  # lines of one extra-large invoice, or None
    resource_allocations: int = 150
    conversations: int = 30
    comments: int = 300

    @classmethod
    def small(cls) -> Scale:
        """Tiny workspace for fast unit tests (every edge case but the >100 children)."""
        return cls(
            users=6,
            projects=4,
            tasks=40,
            time_entries=30,
            time_offs=6,
            phases_per_project=2,
            spaces_per_project=1,
            documents_per_project=2,
            big_project=None,
            invoices=4,
            big_invoice_lines=None,
            resource_allocations=10,
            conversations=4,
            comments=20,
        )

    @classmethod
    def default(cls) -> Scale:
        """Workspace used by tests and the demo."""
        return cls()

    @classmethod
    def large(cls, projects: int = 300) -> Scale:
        """Benchmark workspace; ``projects`` sizes a professional-services firm's history."""
        # The opt-in lists keep their size whatever ``projects`` is: the benchmark reads the nine.
        return cls(
            users=600, projects=projects, tasks=60_000, time_entries=40_000, time_offs=1_000,
            invoices=600, resource_allocations=3_000, conversations=900, comments=15_000,
        )  # fmt: skip


# ------------------------------------------------------------------ text pools
# Unicode on purpose: accents, CJK, RTL scripts, emoji (ZWJ sequences, astral
# plane) and JSON-escaping hazards (quotes, backslash, newline, tab).
FIRST_NAMES = (
    "Ava", "Zoë", "José", "Björn", "Łukasz", "Siobhán", "François", "Mei", "Hiroshi", "Amir",
    "Noa", "Priya", "Olúwaseun", "Ingrid", "Mateus", "Ελένη", "Дмитрий", "伟", "さくら", "محمد",
    "דנה", "Thảo", "Seán", "Åsa", "Chloé", "Kwame", "Renée", "Jürgen", "Inés", "Ngozi",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Müller", "García", "Nguyễn", "O'Brien", "Kowalski", "Østergaard", "Dubois",
    "Rossi", "Tanaka", "王", "김", "Haddad", "כהן", "Иванов", "Papadopoulos", "van der Berg",
    "da Silva", "Ñúñez", "Schröder", "Đặng", "Al-Farsi", "Björk", "Lefèvre",
)  # fmt: skip
PHRASES = (
    "Kick off", "Data migration", "Go live", "User acceptance testing", "Configurar integración",
    "Schulung für Admins", "数据迁移", "テスト計画", "مراجعة العقد", "בדיקת אינטגרציה",
    "Revue de sécurité", "🚀 Launch prep", "Fix SSO 🔐", "Ünïcödé ✓ check", "Ω-test ∑ ≠ ∞",
    'Line\nbreak with "quotes" \\ backslash', "👩‍💻 pairing session", "Ελέγχος ποιότητας",
    "Проверка данных", "café ☕ sync", "Tab\tseparated", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 astral 𝄞",
    "Señal de vida", "Δ rollout", "見積もりレビュー", "Sign-off ✅",
)  # fmt: skip
PROJECT_NAMES = (
    "Acme onboarding", "東京オフィス移行 🚀", "مشروع الرياض", "Café Déjà Vu rollout",
    "Zürich ERP — Phase Ⅱ", "פרויקט תל אביב", "Ñandú Payments", "Projekt Über-Größe",
    'Naïve "quoted" project \\ backslash', "São Paulo CRM", "Łódź warehouse", "北京 data hub",
)  # fmt: skip
CUSTOMER_COMPANIES = (
    ("Acme Inc", "https://www.acme.example"),
    ("Globex GmbH", None),
    ("Initech Ltd", "https://initech.example"),
    ("株式会社サンプル", "https://sample.example.jp"),
    ("Société Générale d'Essai", None),
    ("شركة المثال", "https://mithal.example"),
    ("Stark Industries 🚀", "https://stark.example"),
    ("Wayne Enterprises", None),
)
PARTNER_COMPANIES = (
    ("Modert Inc", "https://www.modert.example"),
    ("Partnerly", None),
    ("Consultoría Ñ", None),
)
HOME_COMPANY_ID, HOME_COMPANY_NAME = 900_000, "Rocketlane Emulator Co"
CUSTOMER_COMPANY_BASE, PARTNER_COMPANY_BASE = 910_000, 920_000
ROLES = ((101, "Designer"), (102, "Customer Success"), (103, "Project Manager"), (104, "Engineer"))
PERMISSIONS = (
    (933, "Account Admin"),
    (934, "Project Manager"),
    (935, "Team Member"),
    (936, "Customer"),
)
CALENDARS = ((93, "India Holiday Calendar"), (94, "US Holidays"), (95, "Deutschland Feiertage"))
CATEGORIES = ((8, "Pre-sales"), (9, "Implementation"), (10, "Training"), (11, "Support 🛠"))
BUDGETS = ((201, "Pre-sales"), (202, "Implementation budget"), (203, "Change request"))
PROJECT_TEMPLATES = ((301, "Simple Onboarding"), (302, "Enterprise Rollout"))
DOC_TEMPLATES = ((303, "Meeting Notes"), (304, "Kick-off deck"))
PLACEHOLDERS = ((401, "Customer Success", 102), (402, "Solutions Engineer", 104))
RATE_CARDS = ((21, "US Project rate"), (22, "EMEA rate card"))
CURRENCIES = ("USD", "EUR", "GBP", "INR", "JPY", "AUD")
TASK_STATUSES = ((1, "To do"), (2, "In progress"), (3, "Completed"), (4, "Blocked"))
PHASE_STATUSES = ((1, "To do"), (2, "In progress"), (3, "Completed"))
PROJECT_STATUSES = (
    (1, "Not started"),
    (2, "In progress"),
    (3, "Completed"),
    (4, "On hold"),
    (5, "Cancelled"),
)
NOT_STARTED, IN_PROGRESS, COMPLETED = 1, 2, 3  # status values of tasks, phases and projects
PRIORITIES = ((1, "Low"), (2, "Medium"), (3, "High"), (4, "Urgent"))
OPTION_COLORS = (
    "RED", "YELLOW", "GREEN", "TEAL", "CYAN", "BLUE", "PURPLE", "MAGENTA", "GRAY", "COOL_GRAY",
)  # fmt: skip
FINANCIAL_METRICS = (
    "actualRevenue", "estimatedRevenue", "actualCost", "estimatedCost", "actualProfit",
    "estimatedProfit", "actualProfitMargin", "estimatedProfitMargin", "estimateAtCompletion",
    "estimationToCompletionInHours",
)  # fmt: skip

# Two custom-field definitions per fieldType.  Projects and tasks each get every
# type whose value has a distinct JSON type; users (whose fieldValue is a string
# per the spec) get the remaining ones.  Time entries reuse the TASK fields
# because the spec's objectType has no time-entry value.
FIELD_LAYOUT = (
    ("TEXT", "PROJECT", "Customer tier"), ("TEXT", "TASK", "Ticket ref 🎫"),
    ("YES_OR_NO", "PROJECT", "Signed SOW"), ("YES_OR_NO", "TASK", "Needs review"),
    ("SINGLE_CHOICE", "PROJECT", "Région"), ("SINGLE_CHOICE", "TASK", "Work type"),
    ("MULTIPLE_CHOICE", "PROJECT", "Modules"), ("MULTIPLE_CHOICE", "TASK", "Labels"),
    ("SINGLE_USER", "PROJECT", "Executive sponsor"), ("SINGLE_USER", "TASK", "Reviewer"),
    ("MULTIPLE_USER", "PROJECT", "Stakeholders"), ("MULTIPLE_USER", "TASK", "Watchers"),
    ("NUMBER", "PROJECT", "MRR"), ("NUMBER", "TASK", "Story points"),
    ("MULTI_LINE_TEXT", "PROJECT", "Kick-off notes"), ("MULTI_LINE_TEXT", "USER", "Bio"),
    ("DATE", "TASK", "Customer due date"), ("DATE", "USER", "Start date"),
    ("NOTE", "PROJECT", "優先度メモ"), ("NOTE", "USER", "Onboarding note"),
    ("RATING", "TASK", "Complexity"), ("RATING", "USER", "Seniority"),
)  # fmt: skip
CHOICE_OPTIONS = {
    "Région": ("EMEA", "APAC", "AMER", "Île-de-France"),
    "Work type": ("Config", "Integration", "Training", "Data"),
    "Modules": ("Billing", "CRM", "Analytics", "移行"),
    "Labels": ("bug", "enhancement", "blocked 🚧", "customer"),
}


def _day_index(iso: str) -> int:
    """Days from 2024-01-01 to an ISO date."""
    return (dt.date.fromisoformat(iso) - _START_DATE).days


def _weekday(day: int) -> int:
    """0 Monday .. 6 Sunday of a day index (2024-01-01 is a Monday)."""
    return day % 7


def _split(rng: Random, minutes: int, parts: int) -> list[int]:
    """``minutes`` (a multiple of 15) in up to ``parts`` entries of whole quarter hours."""
    quarters = minutes // 15
    parts = max(1, min(parts, quarters))
    cuts = sorted(rng.sample(range(1, quarters), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, quarters]
    return [15 * (b - a) for a, b in pairwise(bounds)]


def _margin(revenue: float, cost: float) -> float:
    """Profit as a percentage of revenue; 0 without revenue."""
    return round((revenue - cost) / revenue * 100, 2) if revenue else 0.0


def _pair(keys: tuple[str, str], values: tuple[Any, ...]) -> Record:
    """``{"value": 2, "label": "In progress"}``-style objects from a constant tuple."""
    return {keys[0]: values[0], keys[1]: values[1]}


def _twice(text: str) -> tuple[str, str]:
    return text, text


def _labelled(number: float) -> tuple[float, str]:
    return number, str(number)


def _yes_no(flag: bool) -> tuple[bool, str]:  # noqa: FBT001
    return flag, "Yes" if flag else "No"


def _user_name(user: Record) -> str:
    return f"{user['firstName']} {user['lastName']}"


def _ascii_slug(text: str) -> str:
    slug = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in slug if ch.isalnum()) or "user"


def _dependencies(rng: Random, siblings: list[Record]) -> list[Record]:
    random = rng.random
    if len(siblings) < 2 or random() >= 0.3:
        return []
    first, second = _pick(rng, siblings), _pick(rng, siblings)
    return [first, second] if second is not first and random() < 0.5 else [first]


def _long_html(rng: Random, target_chars: int) -> str:
    """An HTML document of roughly ``target_chars`` characters."""
    parts = ["<h1>Implementation plan 📋</h1>"]
    size = len(parts[0])
    n = 0
    while size < target_chars:
        n += 1
        phrase = rng.choice(PHRASES).replace("\n", " ")
        block = (
            f"<h2>Section {n}: {phrase}</h2><p>{rng.choice(PHRASES)} — the team will "
            f"coordinate with <strong>{rng.choice(FIRST_NAMES)}</strong> &amp; "
            f"<em>{rng.choice(LAST_NAMES)}</em> on step {n}.</p>"
            f"<ul><li>{rng.choice(PHRASES)}</li><li>Ünïcödé ✓ 数据 עברית العربية 🚀</li></ul>"
        )
        parts.append(block)
        size += len(block)
    return "".join(parts)


def stream_of(seed: int, name: str) -> Random:
    """The random generator of one part of the workspace (``name``), seeded from (seed, name).

    A text seed goes through SHA-512 (``random.seed`` version 2), so it is the same on every
    run and platform, unlike ``hash()`` of a text, which is salted per process.
    """
    return Random(f"{seed}:{name}")


def _pick(rng: Random, seq: Sequence[_T]) -> _T:
    # rng.choice is ~3x slower; this matters for 100k records.
    return seq[int(rng.random() * len(seq))]


def _sample(rng: Random, seq: Sequence[_T], low: int, high: int) -> list[_T]:
    return rng.sample(seq, min(len(seq), rng.randint(low, high)))


def _choice_value(rng: Random, fdef: Record, low: int, high: int) -> tuple[Any, str]:
    options = sorted(_sample(rng, fdef["fieldOptions"], low, high), key=lambda o: o["optionValue"])
    label = ", ".join(o["optionLabel"] for o in options)
    if fdef["fieldType"] == "SINGLE_CHOICE":
        return options[0]["optionValue"], label
    return [o["optionValue"] for o in options], label


class _Generator:
    """Builds all nine resources; one method per resource, called in dependency order.

    Each resource draws from generators of its own (:meth:`stream`): its ids, its timestamps
    and its other values apart, so a new field in one resource changes no resource but those
    that read its values, and no id (what references hold). A resource that needs another's
    records reads them once they are built.
    """

    def __init__(self, seed: int, scale: Scale, id_offset: int = 0) -> None:
        self.seed = seed
        self.scale = scale
        #: Added to every natural id: 0 for the spec's shapes, 13-digit ids for the live ones.
        self.id_offset = id_offset
        self.home_company = {
            "companyId": id_offset + HOME_COMPANY_ID,
            "companyName": HOME_COMPANY_NAME,
        }
        self.out: dict[str, list[Record]] = {}
        self._entry_cache: dict[tuple[int, str], Record] = {}
        self._entry_pools: dict[str, list[list[Record]]] = {}
        self.field_defs: dict[str, list[Record]] = {"PROJECT": [], "TASK": [], "USER": []}
        self.short_descriptions = [
            f"<p>{p}</p>" if i % 3 else f"<p>{p}</p><ul><li>{q}</li></ul>"
            for i, (p, q) in enumerate(zip(PHRASES, reversed(PHRASES), strict=True))
        ]

    # ----------------------------------------------------------------- helpers
    def stream(self, name: str) -> Random:
        """A new generator for ``name``: a resource ("tasks") or one part of it ("tasks:ids").

        Each name is asked for once per workspace, so its draws depend on nothing else.
        """
        return stream_of(self.seed, name)

    def _ids(self, resource: str, n: int) -> list[int]:
        """Ascending ids with small random gaps (clients must not assume contiguity)."""
        random = self.stream(f"{resource}:ids").random
        current = ID_BASES[resource] + self.id_offset
        ids = []
        for _ in range(n):
            current += 1 + int(random() * 3)
            ids.append(current)
        return ids

    def _timestamps(self, resource: str, n: int) -> list[tuple[int, int]]:
        """(createdAt, updatedAt) pairs; createdAt ascends with the id like a real system."""
        random = self.stream(f"{resource}:timestamps").random
        span = END_MS - _DAY_MS - START_MS
        created = sorted(START_MS + int(random() * span) for _ in range(n))
        # Most records are edited soon after creation, a few much later.
        return [(c, c + int((END_MS - c) * random() ** 3)) for c in created]

    def _share_updated_at(self, resource: str) -> None:
        """Make several records share one updatedAt millisecond, including the maximum.

        Values only move forward, so updatedAt >= createdAt/submittedAt/... still holds.
        """
        records = self.out[resource]
        rng = self.stream(f"{resource}:updated")
        n = len(records)
        if n < 4:
            return
        top = max(r["updatedAt"] for r in records)
        for r in rng.sample(records, 3):
            r["updatedAt"] = top
        values = sorted(r["updatedAt"] for r in records)
        for r in rng.sample(records, max(3, n // 40)):
            lo = bisect_left(values, r["updatedAt"])
            r["updatedAt"] = values[rng.randrange(lo, min(n, lo + 10))]

    def company_id(self, base: int, index: int) -> int:
        """The id of the ``index``-th customer or partner company (``base``: their range)."""
        return self.id_offset + base + index

    @staticmethod
    def _date(day: int) -> str:
        return _ISO_DATES[max(0, min(day, len(_ISO_DATES) - 1))]

    # ------------------------------------------------------------ custom fields
    def _field_value(self, rng: Random, fdef: Record, mode: str) -> tuple[Any, str | None]:
        """(fieldValue, fieldValueLabel) for one custom field definition."""
        ftype = fdef["fieldType"]
        if mode == "null" or (mode == "random" and rng.random() < 0.1):
            return None, None
        if ftype == "NUMBER":
            if mode == "float" or (mode == "random" and rng.random() < 0.5):
                number: float = rng.randrange(0, 5_000_000) / 100 + 0.005  # never integral
                number = round(number, 3)
            else:
                number = rng.randrange(0, 50_000)
            return _labelled(number)
        makers: dict[str, Callable[[], tuple[Any, str | None]]] = {
            "TEXT": lambda: _twice(_pick(rng, PHRASES)),
            "MULTI_LINE_TEXT": lambda: _twice(f"{_pick(rng, PHRASES)}\nline 2\n第三行"),
            "NOTE": lambda: _twice(f"<p>{_pick(rng, PHRASES)}</p>"),
            "DATE": lambda: _twice(self._date(rng.randrange(_DAYS))),
            "YES_OR_NO": lambda: _yes_no(rng.random() < 0.5),
            "RATING": lambda: _labelled(rng.randint(1, 5)),
            "SINGLE_CHOICE": lambda: _choice_value(rng, fdef, 1, 1),
            "MULTIPLE_CHOICE": lambda: _choice_value(rng, fdef, 1, 3),
            "SINGLE_USER": lambda: self._user_value(rng),
            "MULTIPLE_USER": lambda: self._users_value(rng),
        }
        return makers[ftype]()

    def _user_value(self, rng: Random) -> tuple[Record, str]:
        user = _pick(rng, self.user_refs)
        return user, _user_name(user)

    def _users_value(self, rng: Random) -> tuple[list[str], str]:
        users = _sample(rng, self.user_refs, 1, 3)
        return [u["emailId"] for u in users], ", ".join(_user_name(u) for u in users)

    def _field_entry(self, rng: Random, fdef: Record, mode: str) -> Record:
        """One ``fields`` array item; equal items are one shared object."""
        value, label = self._field_value(rng, fdef, mode)
        if fdef["objectType"] == "USER" and value is not None:
            value = label  # the spec types users' fieldValue as a string
        key = (fdef["fieldId"], repr(value))  # repr tells 1, 1.0 and True apart
        entry = self._entry_cache.get(key)
        if entry is None:
            entry = self._entry_cache[key] = {
                "fieldId": fdef["fieldId"],
                "fieldLabel": fdef["fieldLabel"],
                "fieldValue": value,
                "fieldValueLabel": label,
            }
        return entry

    def _custom_fields(self, rng: Random, object_type: str, index: int) -> list[Record]:
        """Custom field values drawn with ``rng`` (the record's resource's); the first two
        records of a resource show every JSON type."""
        defs = self.field_defs[object_type]
        if index == 0:
            return [self._field_entry(rng, d, "float") for d in defs]
        if index == 1:
            return [self._field_entry(rng, d, "int" if i else "null") for i, d in enumerate(defs)]
        pools = self._entry_pools.get(object_type)
        if pools is None:
            # Drawing from a fixed pool per field keeps 100k-record generation fast. The pool
            # has a generator of its own: tasks and time entries share the TASK one, whichever
            # builds it first.
            own = self.stream(f"custom-fields:{object_type}")
            pools = [[self._field_entry(own, d, "random") for _ in range(_POOL)] for d in defs]
            self._entry_pools[object_type] = pools
        random = rng.random
        if random() < 0.05:
            return []
        return [pool[int(random() * _POOL)] for pool in pools if random() < 0.85]

    # --------------------------------------------------------------- resources
    def users(self) -> None:
        """User identities; full records come later (they need USER custom fields).

        Identities (names, types) have a generator of their own: every resource refers to
        users, so a new property of a user record must not rename anyone.
        """
        rng, n = self.stream("users:identities"), self.scale.users
        # Guarantee every user type; the first user is the workspace admin.
        kinds = ("TEAM_MEMBER", "CUSTOMER", "PARTNER", "EXTERNAL_PARTNER")
        self.user_types = [
            kinds[i] if i < len(kinds) else rng.choices(kinds, weights=(60, 25, 10, 5))[0]
            for i in range(n)
        ]
        refs: list[Record] = []
        for i, uid in enumerate(self._ids("users", n)):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            plus = "+rl" if i % 7 == 3 else ""
            domain = "acme" if self.user_types[i] == "CUSTOMER" else "rl"
            email = f"{_ascii_slug(first)}.{_ascii_slug(last)}{i}{plus}@{domain}.example"
            refs.append({"emailId": email, "userId": uid, "firstName": first, "lastName": last})
        self.user_refs = refs
        typed = list(zip(refs, self.user_types, strict=True))
        self.team_refs = [r for r, t in typed if t in ("TEAM_MEMBER", "PARTNER")]
        self.customer_refs = [r for r, t in typed if t == "CUSTOMER"]

    def fields(self) -> None:
        rng = self.stream("fields")
        records = []
        rows = zip(
            FIELD_LAYOUT,
            self._ids("fields", len(FIELD_LAYOUT)),
            self._timestamps("fields", len(FIELD_LAYOUT)),
            strict=True,
        )
        for i, ((ftype, object_type, label), fid, (created, updated)) in enumerate(rows):
            options = None
            if label in CHOICE_OPTIONS:
                options = [
                    {
                        "optionValue": v,
                        "optionLabel": text,
                        "optionColor": OPTION_COLORS[(v + i) % len(OPTION_COLORS)],
                    }
                    for v, text in enumerate(CHOICE_OPTIONS[label], start=1)
                ]
            record = {
                "fieldId": fid,
                "fieldLabel": label,
                "fieldDescription": None if i % 5 == 4 else f"{label}: {rng.choice(PHRASES)}",
                "fieldType": ftype,
                "objectType": object_type,
                "fieldOptions": options,
                "ratingScale": rng.choice(("FIVE", "SEVEN", "TEN")) if ftype == "RATING" else None,
                "createdBy": self.user_refs[0],
                "updatedBy": rng.choice(self.team_refs),
                "createdAt": created,
                "updatedAt": updated,
                "enabled": i % 9 != 8,
                "private": i % 6 == 5,
            }
            records.append(record)
            self.field_defs[object_type].append(record)
        self.out["fields"] = records
        self._share_updated_at("fields")

    def _user_company(self, index: int, utype: str) -> Record | None:
        if utype == "CUSTOMER":
            k = index % len(CUSTOMER_COMPANIES)
            return {
                "companyId": self.company_id(CUSTOMER_COMPANY_BASE, k),
                "companyName": CUSTOMER_COMPANIES[k][0],
            }
        if utype != "TEAM_MEMBER":
            k = index % len(PARTNER_COMPANIES)
            return {
                "companyId": self.company_id(PARTNER_COMPANY_BASE, k),
                "companyName": PARTNER_COMPANIES[k][0],
            }
        return self.home_company if index % 2 else None  # some team members have no company

    def user_records(self) -> None:
        """Full user records (needs USER field definitions, hence after :meth:`fields`)."""
        rng = self.stream("users")
        records = []
        timestamps = self._timestamps("users", len(self.user_refs))
        rows = zip(self.user_refs, self.user_types, timestamps, strict=True)
        for i, (ref, utype, (created, updated)) in enumerate(rows):
            customer = utype == "CUSTOMER"
            admin = i == 0
            status = rng.choices(("ACTIVE", "INVITED", "INACTIVE", "PASSIVE"), (80, 8, 8, 4))[0]
            permission = PERMISSIONS[0 if admin else 3 if customer else rng.randrange(1, 3)]
            calendar = rng.choice(CALENDARS) if rng.random() < 0.7 else None
            records.append(
                {
                    "userId": ref["userId"],
                    "email": ref["emailId"],
                    "firstName": ref["firstName"],
                    "lastName": ref["lastName"],
                    "type": utype,
                    "status": "ACTIVE" if admin else status,
                    "role": None if customer else _pair(("roleId", "roleName"), rng.choice(ROLES)),
                    "company": self._user_company(i, utype),
                    "permission": _pair(("permissionId", "permissionName"), permission),
                    "fields": self._custom_fields(rng, "USER", i),
                    "capacityInMinutes": None if customer else rng.choice((1200, 1800, 2400)),
                    "holidayCalendar": calendar and _pair(("calenderId", "calenderName"), calendar),
                    "profilePictureUrl": f"https://avatars.example/{ref['userId']}.png"
                    if rng.random() < 0.6
                    else None,
                    "createdAt": created,
                    "createdBy": None if admin else self.user_refs[0],
                    "updatedAt": updated,
                    "updatedBy": None if admin else rng.choice(self.team_refs),
                }
            )
        self.out["users"] = records
        self._share_updated_at("users")

    def projects(self) -> None:
        rng, sc = self.stream("projects"), self.scale
        n = sc.projects
        self.empty_index = 1 if sc.empty_project and n > 1 else None
        self.big_index = n // 2 if sc.big_project and n > 2 else None
        ordinary = [i for i in range(n) if i not in (self.empty_index, self.big_index)]
        archived = set(rng.sample(ordinary, max(1, round(n * 0.1)))) if ordinary else set()
        self.project_refs: list[Record] = []
        self.project_start_days: list[int] = []
        records = []
        rows = zip(self._ids("projects", n), self._timestamps("projects", n), strict=True)
        for i, (pid, (created, updated)) in enumerate(rows):
            name = f"{PROJECT_NAMES[i % len(PROJECT_NAMES)]} #{i + 1}"
            self.project_refs.append({"projectId": pid, "projectName": name})
            start = rng.randrange(_DAYS - 60)
            self.project_start_days.append(start)
            record = {"projectId": pid, "projectName": name}
            record.update(self._project_body(rng, i, start, (created, updated)))
            record["archived"] = i in archived
            records.append(record)
        self.out["projects"] = records
        self._share_updated_at("projects")

    def _project_body(self, rng: Random, index: int, start: int, stamps: tuple[int, int]) -> Record:
        """Every project property but id, name and archived, in the spec's order."""
        team, (created, updated) = self.team_refs, stamps
        duration = rng.randint(20, 240)
        has_due = rng.random() > 0.1
        # Most of a services firm's projects are running; few are on hold or cancelled.
        status = rng.choices(PROJECT_STATUSES, weights=(15, 45, 25, 8, 7))[0]
        started, done = status[0] in (IN_PROGRESS, COMPLETED), status[0] == COMPLETED
        contract = rng.choice(("FIXED_FEE", "TIME_AND_MATERIAL", "SUBSCRIPTION", "NON_BILLABLE"))
        budget_h = round(rng.uniform(10, 2_000), 1)
        tracked = rng.randrange(0, 120_000)  # minutes
        allocated = rng.randrange(0, 150_000)
        billable = rng.randrange(0, tracked + 1)
        k = rng.randrange(len(CUSTOMER_COMPANIES))
        customer = {
            "companyId": self.company_id(CUSTOMER_COMPANY_BASE, k),
            "companyName": CUSTOMER_COMPANIES[k][0],
            "companyUrl": CUSTOMER_COMPANIES[k][1],
        }
        partners = [
            {
                "companyId": self.company_id(PARTNER_COMPANY_BASE, k),
                "companyName": PARTNER_COMPANIES[k][0],
                "companyUrl": PARTNER_COMPANIES[k][1],
            }
            for k in sorted(rng.sample(range(len(PARTNER_COMPANIES)), rng.randint(0, 2)))
        ]
        champion = _pick(rng, self.customer_refs) if self.customer_refs else None
        return {
            "startDate": self._date(start),
            "dueDate": self._date(start + duration) if has_due else None,
            "createdAt": created,
            "updatedAt": updated,
            "owner": rng.choice(team),
            "teamMembers": {
                "members": _sample(rng, team, 1, 4),
                "customers": _sample(rng, self.customer_refs, 0, 3),
                "customerChampion": champion if rng.random() < 0.6 else None,
            },
            "status": _pair(("value", "label"), status),
            "fields": self._custom_fields(rng, "PROJECT", index),
            "customer": customer if rng.random() < 0.9 else None,
            "partnerCompanies": partners,
            "archived": False,
            "visibility": rng.choice(("EVERYONE", "MEMBERS", "GROUP")),
            "createdBy": rng.choice(team),
            "updatedBy": rng.choice(team),
            "currency": rng.choice(CURRENCIES),
            "financials": self._financials(rng, contract, start),
            "startDateActual": self._date(start + rng.randint(0, 10)) if started else None,
            "dueDateActual": self._date(start + duration + rng.randint(-10, 30)) if done else None,
            "annualizedRecurringRevenue": rng.randrange(500_000) if rng.random() < 0.7 else None,
            "projectFee": rng.randrange(1_000, 900_000) if contract != "NON_BILLABLE" else None,
            "budgetedHours": budget_h,
            "percentageBudgetedHoursConsumed": round(tracked / 60 / budget_h * 100, 2),
            "percentageBudgetConsumed": round(rng.uniform(0, 130), 2),
            "trackedHours": tracked // 60,
            "trackedMinutes": float(tracked),
            "allocatedHours": allocated // 60,
            "allocatedMinutes": float(allocated),
            "billableHours": billable // 60,
            "billableMinutes": float(billable),
            "nonBillableHours": (tracked - billable) // 60,
            "nonBillableMinutes": float(tracked - billable),
            "remainingHours": max(0, int(budget_h) - tracked // 60),
            "remainingMinutes": max(0, int(budget_h * 60) - tracked),
            "progressPercentage": 100 if done else rng.randrange(0, 100),
            "currentPhases": [],  # filled once phases exist
            "autoAllocation": rng.random() < 0.3,
            "sources": [
                {
                    "prefix": rng.choice(("APAC", "EMEA", "")),
                    "startDate": self._date(start),
                    "templateId": template_id,
                    "templateName": template_name,
                }
                for template_id, template_name in _sample(rng, PROJECT_TEMPLATES, 0, 2)
            ],
            "plannedDurationInDays": duration if has_due else None,
            "inferredProgress": rng.choice(("ON_TRACK", "AHEAD_OF_TIME", "RUNNING_LATE", "NONE")),
            "projectAgeInDays": rng.randint(1, 700) if started else None,
            "customersInvited": rng.randint(0, 12),
            "customersJoined": rng.randint(0, 10),
            "externalReferenceId": f"pr_{8000 + index}" if rng.random() < 0.6 else None,
        }

    def _financials(self, rng: Random, contract: str, start: int) -> Record:
        def money(low: int, high: int) -> float:
            return round(rng.uniform(low, high), 2)

        subscription = {
            "subscriptionFrequency": rng.choice(("MONTHLY", "QUARTERLY", "YEARLY", "HALF_YEARLY")),
            "subscriptionStartDate": self._date(start),
            "periodMinutes": rng.choice((600, 1200, 2400)),
            "periodBudget": money(1_000, 20_000),
            "noOfPeriods": rng.randint(1, 24),
        }
        time_and_material = {
            "rateCard": _pair(("rateCardId", "rateCardName"), rng.choice(RATE_CARDS)),
            "projectBudget": money(1_000, 90_000),
        }
        recognition = ("TrackedHours/BudgetHours", "TrackedHours/AllocatedHours", None)
        return {
            "contractType": contract,
            "revenueRecognitionType": rng.choice(recognition),
            "fixedFeeContract": {"fixedFee": money(1_000, 90_000)}
            if contract == "FIXED_FEE"
            else None,
            "timeAndMaterialContract": time_and_material
            if contract == "TIME_AND_MATERIAL"
            else None,
            "subscriptionContract": subscription if contract == "SUBSCRIPTION" else None,
            "metrics": {key: money(-5_000, 250_000) for key in FINANCIAL_METRICS},
        }

    def _child_counts(self, rng: Random, kind: int, usual: int) -> list[int]:
        """How many children of one kind (0 phases, 1 spaces, 2 documents) each project has:
        ``usual`` ±1, none in the empty project, the big project's share in the big one."""
        sc, counts = self.scale, []
        for index in range(len(self.project_refs)):
            if index == self.empty_index:
                counts.append(0)
            elif index == self.big_index and sc.big_project:
                counts.append(sc.big_project[kind])
            else:
                counts.append(max(1, usual + rng.randint(-1, 1)) if usual else 0)
        return counts

    def project_children(self) -> None:
        """Phases, spaces and space documents, one kind after the other, each with generators
        of its own; ids ascend across projects. Documents go in the spaces just built."""
        sc, projects = self.scale, self.out["projects"]
        starts = self.project_start_days
        rng = self.stream("phases")
        counts = self._child_counts(rng, 0, sc.phases_per_project)
        rows = self._rows("phases", sum(counts))
        self.out["phases"] = []
        self.phase_refs: list[list[Record]] = [
            self._phases(rng, rows, project, start, n)
            for project, start, n in zip(projects, starts, counts, strict=True)
        ]
        rng = self.stream("spaces")
        counts = self._child_counts(rng, 1, sc.spaces_per_project)
        rows = self._rows("spaces", sum(counts))
        self.out["spaces"] = []
        space_refs = [
            self._spaces(rng, rows, project, n) for project, n in zip(projects, counts, strict=True)
        ]
        rng = self.stream("space-documents")
        # A project without a space has no document.
        counts = [
            n if spaces else 0
            for n, spaces in zip(
                self._child_counts(rng, 2, sc.documents_per_project), space_refs, strict=True
            )
        ]
        rows = self._rows("space-documents", sum(counts))
        self.out["space-documents"] = []
        for spaces, n in zip(space_refs, counts, strict=True):
            self._documents(rng, rows, spaces, n)
        for name in ("phases", "spaces", "space-documents"):
            self._share_updated_at(name)

    def _rows(self, resource: str, n: int) -> Iterator[tuple[int, tuple[int, int]]]:
        """(id, (createdAt, updatedAt)) of ``n`` records, for a child list built per project."""
        return iter(zip(self._ids(resource, n), self._timestamps(resource, n), strict=True))

    def _phases(
        self,
        rng: Random,
        rows: Iterator[tuple[int, tuple[int, int]]],
        project: Record,
        start: int,
        count: int,
    ) -> list[Record]:
        team = self.team_refs
        project_ref = {"projectId": project["projectId"], "projectName": project["projectName"]}
        refs = []
        for k in range(count):
            phase_id, (created, updated) = next(rows)
            status = rng.choice(PHASE_STATUSES)
            begin = start + 2 * k
            ref = {"phaseId": phase_id, "phaseName": f"{rng.choice(PHRASES)} · {k + 1}"}
            refs.append(ref)
            self.out["phases"].append(
                {
                    "phaseId": phase_id,
                    "phaseName": ref["phaseName"],
                    "project": project_ref,
                    "startDate": self._date(begin),
                    "dueDate": self._date(begin + rng.randint(7, 60)),
                    "startDateActual": self._date(begin + rng.randint(0, 5))
                    if status[0] >= IN_PROGRESS
                    else None,
                    "dueDateActual": self._date(begin + rng.randint(7, 70))
                    if status[0] == COMPLETED
                    else None,
                    "createdAt": created,
                    "updatedAt": updated,
                    "createdBy": rng.choice(team),
                    "updatedBy": rng.choice(team),
                    "status": _pair(("value", "label"), status),
                    "private": rng.random() < 0.15,
                }
            )
            if status[0] == IN_PROGRESS:
                project["currentPhases"].append(ref)
        return refs

    def _spaces(
        self,
        rng: Random,
        rows: Iterator[tuple[int, tuple[int, int]]],
        project: Record,
        count: int,
    ) -> list[Record]:
        team = self.team_refs
        project_ref = {"projectId": project["projectId"], "projectName": project["projectName"]}
        refs = []
        for k in range(count):
            space_id, (created, updated) = next(rows)
            kind = rng.choice(("Shared space", "Internal 🔒", "Espace client", "共有スペース"))
            ref = {"spaceId": space_id, "spaceName": f"{kind} {k + 1}"}
            refs.append(ref)
            self.out["spaces"].append(
                {
                    "spaceId": space_id,
                    "spaceName": ref["spaceName"],
                    "project": project_ref,
                    "createdAt": created,
                    "createdBy": rng.choice(team),
                    "updatedAt": updated,
                    "updatedBy": rng.choice(team),
                    "private": rng.random() < 0.3,
                }
            )
        return refs

    def _documents(
        self,
        rng: Random,
        rows: Iterator[tuple[int, tuple[int, int]]],
        space_refs: list[Record],
        count: int,
    ) -> None:
        team = self.team_refs
        for k in range(count):
            doc_id, (created, updated) = next(rows)
            embedded = rng.random() < 0.4
            template = rng.choice(DOC_TEMPLATES) if not embedded and rng.random() < 0.5 else None
            # Every space gets a document before any space gets a second one.
            space = space_refs[k] if k < len(space_refs) else rng.choice(space_refs)
            self.out["space-documents"].append(
                {
                    "spaceDocumentId": doc_id,
                    "spaceDocumentName": f"{rng.choice(PHRASES)} — doc {k + 1}",
                    "space": space,
                    "spaceDocumentType": "EMBEDDED_DOCUMENT" if embedded else "ROCKETLANE_DOCUMENT",
                    "url": f"https://docs.example/d/{doc_id}?q=ä&x=1" if embedded else None,
                    "source": _pair(("templateId", "templateName"), template) if template else None,
                    "createdAt": created,
                    "createdBy": rng.choice(team),
                    "updatedAt": updated,
                    "updatedBy": rng.choice(team),
                    "private": rng.random() < 0.2,
                }
            )

    def tasks(self) -> None:
        rng = self.stream("tasks")
        random = rng.random

        def pick(seq: Sequence[_T]) -> _T:
            return _pick(rng, seq)

        n_projects = len(self.project_refs)
        statuses = [_pair(("value", "label"), s) for s in TASK_STATUSES]
        priorities = [_pair(("value", "label"), p) for p in PRIORITIES]
        categories = [_pair(("categoryId", "categoryName"), c) for c in CATEGORIES]
        budgets = [_pair(("budgetId", "budgetName"), b) for b in BUDGETS]
        placeholders = [
            {
                "placeholderId": pid,
                "placeholderName": name,
                "role": {"roleId": role, "roleName": dict(ROLES)[role]},
            }
            for pid, name, role in PLACEHOLDERS
        ]
        long_descriptions = [
            _long_html(rng, size) for size in (5_000, 8_000, 12_000, 16_000, 20_000)
        ]
        assignable = self.team_refs + self.customer_refs
        # Member lists come from shared pools: cheap to build and to keep in memory.
        assignee_pool = [
            {
                "members": rng.sample(assignable, min(len(assignable), k % 4)),
                "placeholders": [rng.choice(placeholders)] if k % 7 == 1 else [],
            }
            for k in range(_POOL)
        ]
        follower_pool = [
            {"members": rng.sample(self.team_refs, min(len(self.team_refs), k % 3))}
            for k in range(_POOL)
        ]
        self.tasks_by_project: list[list[Record]] = [[] for _ in range(n_projects)]
        self.task_meta: dict[int, tuple[str, Record | None]] = {}
        team, dates, records = self.team_refs, _ISO_DATES, []
        rows = zip(
            self._ids("tasks", self.scale.tasks),
            self._timestamps("tasks", self.scale.tasks),
            strict=True,
        )
        for i, (task_id, (created, updated)) in enumerate(rows):
            p = int(random() * n_projects)
            siblings = self.tasks_by_project[p]
            phases = self.phase_refs[p]
            status = pick(statuses)
            state = status["value"]
            start = self.project_start_days[p] + int(random() * 120)  # inside _ISO_DATES
            milestone = random() < 0.1
            name = f"{pick(PHRASES)} #{i + 1}"
            phase = pick(phases) if phases and random() > 0.2 else None
            record: Record = {
                "taskId": task_id,
                "taskName": name,
                "taskDescription": self._task_description(rng, long_descriptions),
                "startDate": dates[start] if random() > 0.15 else None,
                "dueDate": dates[start + 1 + int(random() * 45)] if random() > 0.2 else None,
                "archived": random() < 0.1,
                "effortInMinutes": 15 * int(random() * 320) if random() > 0.1 else None,
                "progress": 100 if state == COMPLETED else int(random() * 100),
                "atRisk": random() < 0.1,
                "createdAt": created,
                "updatedAt": updated,
                "createdBy": pick(team),
                "updatedBy": pick(team),
                "project": self.project_refs[p],
                "status": status,
                "fields": self._custom_fields(rng, "TASK", i),
                "startDateActual": dates[start + int(random() * 3)]
                if state in (IN_PROGRESS, COMPLETED)
                else None,
                "dueDateActual": dates[start + 1 + int(random() * 50)]
                if state == COMPLETED
                else None,
                "type": "MILESTONE" if milestone else "TASK",
                "phase": phase,
                "assignees": pick(assignee_pool),
                "followers": pick(follower_pool),
                "dependencies": _dependencies(rng, siblings),
                "parent": pick(siblings) if siblings and random() < 0.25 else None,
                "externalReferenceId": f"task_{8000 + i}" if random() < 0.3 else None,
                "billable": random() < 0.7,
                "timeEntryCategory": pick(categories) if random() < 0.5 else None,
                "financialsBudgets": [pick(budgets)] if random() < 0.3 else [],
                "csatEnabled": milestone and random() < 0.5,
                "priority": pick(priorities) if random() < 0.7 else None,
                "taskPrivateNote": f"Internal: {pick(PHRASES)}" if random() < 0.2 else None,
                "private": random() < 0.05,
            }
            records.append(record)
            # Lite reference used by later tasks' parent/dependencies and by time entries.
            siblings.append({"taskId": task_id, "taskName": name})
            self.task_meta[task_id] = (record["type"], phase)
        self.out["tasks"] = records
        self._share_updated_at("tasks")

    def _task_description(self, rng: Random, long_descriptions: list[str]) -> str | None:
        roll = rng.random()
        if roll < 0.03:
            return _pick(rng, long_descriptions)  # 5-20 KB of HTML
        if roll < 0.13:
            return None
        return _pick(rng, self.short_descriptions)

    # ------------------------------------------------------------ time logged
    def loggers(self) -> list[tuple[Record, int]]:
        """(user reference, weekly capacity) of the people who log time and get allocated: the
        active team members and partners with a capacity (else the first team member)."""
        users = {u["userId"]: u for u in self.out["users"]}
        people = [
            (ref, users[ref["userId"]]["capacityInMinutes"])
            for ref in self.team_refs
            if users[ref["userId"]]["status"] == "ACTIVE"
            and users[ref["userId"]]["capacityInMinutes"]
        ]
        if not people:
            people = [(self.team_refs[0] if self.team_refs else self.user_refs[0], 2400)]
        return people

    def _time_off_by_day(self) -> dict[tuple[int, int], int]:
        """Minutes of time off per (user id, day index), on working days (Monday to Friday)."""
        off: dict[tuple[int, int], int] = {}
        for record in self.out["time-offs"]:
            first = _day_index(record["startDate"])
            last = _day_index(record["endDate"])
            for day in range(first, last + 1):
                if _weekday(day) < WORKING_DAYS:
                    key = (record["user"]["userId"], day)
                    off[key] = off.get(key, 0) + record["durationInMinutes"]
        return off

    def _active_projects(self) -> list[tuple[int, int, int]]:
        """(first day, last day, project index) of the projects people log time on: those in
        progress (whenever), and completed ones during their run."""
        runs = []
        for p, project in enumerate(self.out["projects"]):
            state = project["status"]["value"]
            if state not in (IN_PROGRESS, COMPLETED):
                continue
            start = self.project_start_days[p]
            due = project.get("dueDate")
            end = _day_index(due) if due else start + 240
            if state == IN_PROGRESS:
                start, end = 0, len(_ISO_DATES)
            runs.append((start, max(end, start + 30), p))
        return runs or [(0, len(_ISO_DATES), p) for p in range(len(self.out["projects"]))]

    def _logged_days(self) -> list[tuple[int, Record, int, int, bool]]:
        """(day, user, minutes, project index, deleted) of the time the team logs, newest week
        first back from TODAY, until ``scale.time_entries`` entries: the oldest week in the
        window may be partly logged. Each person keeps a habit between 60% and 90% of the
        capacity left after time off (a few below or above), on one to three projects that
        change every few weeks."""
        rng = self.stream("time-entries:days")
        random = rng.random
        people = self.loggers()
        off = self._time_off_by_day()
        runs = self._active_projects()
        # One person in twelve below that (on the bench), one above (overworked).
        odd = rng.sample(range(len(people)), 2 * (len(people) // 12))
        low, high = set(odd[: len(odd) // 2]), set(odd[len(odd) // 2 :])
        habits = [
            rng.uniform(0.4, 0.55)
            if k in low
            else rng.uniform(0.92, 1.05)
            if k in high
            else rng.uniform(0.64, 0.86)
            for k in range(len(people))
        ]
        projects: list[list[int]] = [[] for _ in people]
        budget = self.scale.time_entries
        drafts: list[tuple[int, Record, int, int, bool]] = []
        monday = TODAY_INDEX - _weekday(TODAY_INDEX)
        while len(drafts) < budget and monday >= 0:
            live = [p for first, last, p in runs if first <= monday + 4 and last >= monday]
            for k, (user, capacity) in enumerate(people):
                if not projects[k] or random() < 0.2:  # a new set of projects every ~5 weeks
                    pool = live or [p for _, _, p in runs]
                    projects[k] = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
                share = habits[k] + rng.uniform(-0.05, 0.05)
                for day in range(monday, min(monday + WORKING_DAYS, TODAY_INDEX + 1)):
                    left = capacity // WORKING_DAYS - off.get((user["userId"], day), 0)
                    minutes = 15 * round(max(left, 0) * share * rng.uniform(0.85, 1.15) / 15)
                    if minutes <= 0:
                        continue
                    parts = 1 if random() < 0.55 else 2 if random() < 0.75 else 3
                    drafts.extend(
                        (day, user, part, rng.choice(projects[k]), False)
                        for part in _split(rng, minutes, parts)
                    )
                    if random() < 0.06:  # logged by mistake, then deleted
                        drafts.append((day, user, 15 * rng.randint(1, 16), projects[k][0], True))
            monday -= 7
        drafts.sort(key=lambda d: d[0])
        return drafts[len(drafts) - budget :] if len(drafts) > budget else drafts

    def time_entries(self) -> None:
        # The days logged come first, from a generator of their own: the hours a person
        # logs stay as they are whatever a time entry's other properties draw.
        drafts = self._logged_days()
        rng = self.stream("time-entries")
        random = rng.random

        def pick(seq: Sequence[_T]) -> _T:
            return _pick(rng, seq)

        categories = [_pair(("categoryId", "categoryName"), c) for c in CATEGORIES]
        # A person's cost rate and a project's bill rate, in the project's currency.
        cost_rates = {user["userId"]: rng.choice((40, 55.5, 80)) for user, _ in self.loggers()}
        currencies = [project["currency"] for project in self.out["projects"]]
        bill_rates = [
            {"rate": rng.choice((100, 120.25, 150)), "currency": currency}
            for currency in currencies
        ]
        contracts = [project["financials"]["contractType"] for project in self.out["projects"]]
        team, records = self.team_refs, []
        count = len(drafts)
        rows = zip(
            self._ids("time-entries", count),
            self._timestamps("time-entries", count),
            drafts,
            strict=True,
        )
        for i, (entry_id, (created, updated), (day, user, minutes, p, deleted)) in enumerate(rows):
            task, phase, source, activity = self._time_entry_source(rng, p)
            roll = random()
            status = (
                "NOT_SUBMITTED"
                if roll < 0.4
                else "SUBMITTED"
                if roll < 0.6
                else "APPROVED"
                if roll < 0.9
                else "REJECTED"
            )
            submitted = created + (updated - created) // 3 if status != "NOT_SUBMITTED" else None
            decided = None
            if status in ("APPROVED", "REJECTED"):
                decided = created + (updated - created) * 2 // 3
            approver = pick(team) if decided else None
            billable = contracts[p] != "NON_BILLABLE" and source != "ADHOC" and random() < 0.85
            records.append(
                {
                    "timeEntryId": entry_id,
                    "date": _ISO_DATES[day],
                    "minutes": minutes,
                    "activityName": activity,
                    "project": self.project_refs[p],
                    "task": task,
                    "projectPhase": phase,
                    "createdAt": created,
                    "updatedAt": updated,
                    "createdBy": user,
                    "updatedBy": approver or user,
                    "billable": billable,
                    "user": user,
                    "notes": f"{pick(PHRASES)} ({i})" if random() < 0.7 else None,
                    "category": pick(categories) if random() < 0.6 else None,
                    "sourceType": source,
                    "status": status,
                    "submittedBy": user if submitted else None,
                    "submittedAt": submitted,
                    "approvedBy": approver if status == "APPROVED" else None,
                    "approvedAt": decided if status == "APPROVED" else None,
                    "rejectedBy": approver if status == "REJECTED" else None,
                    "rejectedAt": decided if status == "REJECTED" else None,
                    "deleted": deleted,
                    "costRate": {"rate": cost_rates[user["userId"]], "currency": currencies[p]}
                    if random() < 0.9
                    else None,
                    "billRate": bill_rates[p] if random() < 0.9 else None,
                    "fields": self._custom_fields(rng, "TASK", i),
                }
            )
        self.out["time-entries"] = records
        self._share_updated_at("time-entries")
        self._project_figures(bill_rates)

    def _project_figures(self, bill_rates: list[Record]) -> None:
        """Each project's tracked time, budget and financial metrics, from its time entries:
        budgets burnt in proportion to progress, revenue per contract type, cost at the
        entries' cost rates, profit and margin that add up (a generator of their own: they are
        the projects', drawn once the time entries exist)."""
        rng = self.stream("projects:figures")
        logged: dict[
            int, list[float]
        ] = {}  # project id -> [minutes, billable minutes, cost, value]
        for entry in self.out["time-entries"]:
            if entry["deleted"]:
                continue
            row = logged.setdefault(entry["project"]["projectId"], [0, 0, 0.0, 0.0])
            hours = entry["minutes"] / 60
            row[0] += entry["minutes"]
            row[2] += hours * (entry["costRate"] or {}).get("rate", 0)
            if entry["billable"]:
                row[1] += entry["minutes"]
                row[3] += hours * (entry["billRate"] or {}).get("rate", 0)
        for project, bill_rate in zip(self.out["projects"], bill_rates, strict=True):
            tracked, billable, cost, value = logged.get(project["projectId"], [0, 0, 0.0, 0.0])
            progress = project["progressPercentage"] / 100
            # Hours burn about as fast as the work progresses; some projects overrun.
            burn = (
                rng.uniform(0.85, 1.3)
                if project["status"]["value"] == COMPLETED
                else max(0.05, progress * rng.uniform(0.8, 1.35))
            )
            budget = (
                max(10.0, round(tracked / 60 / burn, 1)) if tracked else project["budgetedHours"]
            )
            project.update(
                budgetedHours=budget,
                percentageBudgetedHoursConsumed=round(tracked / 60 / budget * 100, 2),
                trackedHours=tracked // 60,
                trackedMinutes=float(tracked),
                billableHours=billable // 60,
                billableMinutes=float(billable),
                nonBillableHours=(tracked - billable) // 60,
                nonBillableMinutes=float(tracked - billable),
                remainingHours=max(0, int(budget) - tracked // 60),
                remainingMinutes=max(0, int(budget * 60) - tracked),
            )
            financials = project["financials"]
            contract = financials["contractType"]
            # The price: the budgeted hours at the project's bill rate, give or take.
            planned = 0.0
            if contract != "NON_BILLABLE":
                planned = round(budget * bill_rate["rate"] * rng.uniform(0.8, 1.2), 2)
                project["projectFee"] = int(planned)
            if contract == "FIXED_FEE":
                financials["fixedFeeContract"]["fixedFee"] = planned
            elif contract == "TIME_AND_MATERIAL":
                financials["timeAndMaterialContract"]["projectBudget"] = planned
            elif contract == "SUBSCRIPTION":
                terms = financials["subscriptionContract"]
                terms["periodBudget"] = round(planned / terms["noOfPeriods"], 2)
            estimated_cost = budget * 55.5  # the middle cost rate
            if not tracked and project["status"]["value"] != NOT_STARTED:
                # Its time was logged before the entries the workspace holds (they cover the
                # last few months): Rocketlane's actuals still count it.
                cost, value = estimated_cost * burn, planned * burn
            revenue = value if contract == "TIME_AND_MATERIAL" else planned * progress
            project["percentageBudgetConsumed"] = round(cost / estimated_cost * 100, 2)
            financials["metrics"] = {
                "actualRevenue": round(revenue, 2),
                "estimatedRevenue": round(planned, 2),
                "actualCost": round(cost, 2),
                "estimatedCost": round(estimated_cost, 2),
                "actualProfit": round(revenue - cost, 2),
                "estimatedProfit": round(planned - estimated_cost, 2),
                "actualProfitMargin": _margin(revenue, cost),
                "estimatedProfitMargin": _margin(planned, estimated_cost),
                "estimateAtCompletion": round(max(cost, estimated_cost), 2),
                "estimationToCompletionInHours": round(max(0.0, budget - tracked / 60), 2),
            }

    def _time_entry_source(
        self, rng: Random, project: int
    ) -> tuple[Record | None, Record | None, str, str | None]:
        """(task, phase, sourceType, activityName) of a time entry in ``project``."""
        tasks = self.tasks_by_project[project]
        if tasks and rng.random() < 0.8:
            task = _pick(rng, tasks)
            task_type, phase = self.task_meta[task["taskId"]]
            return task, phase, "MILESTONE" if task_type == "MILESTONE" else "TASK", None
        sources = ("ADHOC", "PROJECT", "PHASE", "GOOGLE_CALENDAR", "OUTLOOK_CALENDAR")
        source = _pick(rng, sources)
        phases = self.phase_refs[project]
        phase = _pick(rng, phases) if source == "PHASE" and phases else None
        activity = None if source in ("PROJECT", "PHASE") else _pick(rng, PHRASES)
        return None, phase, source, activity

    def time_offs(self) -> None:
        rng = self.stream("time-offs")
        count = self.scale.time_offs
        notes = ("Sick leave.", "Vacances 🏖", "休暇", "חופשה", "Family event")
        records = []
        rows = zip(self._ids("time-offs", count), self._timestamps("time-offs", count), strict=True)
        for i, (time_off_id, (created, _updated)) in enumerate(rows):
            kind = rng.choice(("FULL_DAY", "FULL_DAY", "HALF_DAY", "CUSTOM"))
            start = rng.randrange(_DAYS - 10)
            user = rng.choice(self.team_refs)
            minutes = {"FULL_DAY": 480, "HALF_DAY": 240}.get(kind) or rng.randrange(60, 420, 30)
            records.append(
                {
                    "timeOffId": time_off_id,
                    "user": user,
                    "note": rng.choice(notes) if rng.random() < 0.7 else None,
                    "startDate": self._date(start),
                    "endDate": self._date(start + (rng.randint(0, 6) if kind == "FULL_DAY" else 0)),
                    "durationInMinutes": minutes,
                    "type": kind,
                    "notifyUsers": {
                        "projectOwners": rng.random() < 0.5,
                        "others": _sample(rng, self.team_refs, 0, 2),
                    },
                    "createdAt": created,
                    "createdBy": user if i % 5 else self.user_refs[0],
                }
            )
        self.out["time-offs"] = records
