"""The baseline: a minimal `requests` loop fetching the tap's pages, one JSON line per record.

Usage: python bench/raw_loop.py BASE_URL API_KEY > /dev/null
It asks for exactly what tap-pm asks for (same streams, parameters and partitions).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from collections.abc import Iterator

LISTS = {
    "projects": {"includeAllFields": "true", "includeArchive.eq": "true"},
    "tasks": {"includeAllFields": "true", "includeArchive.eq": "true"},
    "time-entries": {
        "includeDeleted.eq": "true",
        "includeFields": "notes,sourceType,deleted,status,submittedBy,submittedAt,approvedBy,"
        "approvedAt,rejectedBy,rejectedAt,costRate,billRate",
    },
    "users": {"includeAllFields": "true"},
    "fields": {"includeAllFields": "true"},
    "time-offs": {"includeAllFields": "true"},
}
CHILDREN = {"spaces": {}, "phases": {"includeAllFields": "true"}, "space-documents": {}}


def get(session: requests.Session, url: str, query: dict) -> dict:
    """One page; a 5xx or a cut-off body is asked for again at once, as a bare loop would."""
    while True:
        response = session.get(url, params=query, timeout=60)
        if response.status_code < 500:
            try:
                return response.json()
            except ValueError:
                pass


def fetch(session: requests.Session, url: str, params: dict) -> Iterator[dict]:
    token = None
    while True:
        query = {"pageSize": 100, **params, **({"pageToken": token} if token else {})}
        page = get(session, url, query)
        yield from page["data"]
        if not page["pagination"].get("hasMore"):
            return
        token = page["pagination"]["nextPageToken"]


def main() -> None:
    base_url, key = sys.argv[1], sys.argv[2]
    session = requests.Session()
    session.headers["api-key"] = key
    write = sys.stdout.write
    for name, params in LISTS.items():
        projects = []
        for record in fetch(session, f"{base_url}/{name}", params):
            write(json.dumps(record) + "\n")
            if name == "projects":
                projects.append(record["projectId"])
        for project in projects:
            for child, child_params in CHILDREN.items():
                url = f"{base_url}/{child}"
                for record in fetch(session, url, {**child_params, "projectId": project}):
                    write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
