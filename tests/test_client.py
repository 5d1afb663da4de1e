"""Narrow unit tests of the base stream's building blocks (hand-made responses, no server)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import streams_of
from singer_sdk.exceptions import RetriableAPIError

from tap_pm.budget import RateLimitedError, retry_after_seconds
from tap_pm.client import (
    PageTokenExpiredError,
    PartitionGoneError,
    RocketlaneStream,
    ms_to_rfc3339,
    to_epoch_ms,
)
from tap_pm.errors import TapPMError
from tap_pm.pagination import PageTokenPaginator, PaginationError
from tap_pm.tap import TapPM

KEY = "unit-test-key-0000"
DEVIATIONS = Path(__file__).parents[1] / "spec" / "live-deviations.md"
ONE_MINUTE = 60.0


def response(
    status: int, body: object = None, headers: dict[str, Any] | None = None, url: str = ""
) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body if isinstance(body, bytes) else json.dumps(body or {}).encode()  # noqa: SLF001
    resp.headers.update(headers or {})
    resp.url = url or "https://api.rocketlane.com/api/1.0/tasks?pageSize=100"
    resp.request = requests.Request("GET", resp.url).prepare()
    return resp


def page(
    *, has_more: bool, token: str | None = None, ids: tuple[int, ...] = ()
) -> requests.Response:
    pagination = {"hasMore": has_more} | ({"nextPageToken": token} if token else {})
    return response(200, {"data": [{"id": i} for i in ids], "pagination": pagination})


@pytest.fixture(scope="module")
def streams() -> dict[str, RocketlaneStream]:
    tap = TapPM(config={"api_key": KEY}, validate_config=True)
    return streams_of(tap)


def test_retry_after_header_forms() -> None:
    in_two_seconds_ms = str(int((time.time() + 2) * 1000))
    assert (
        1.5 < retry_after_seconds(response(429, headers={"X-Retry-After": in_two_seconds_ms})) <= 2
    )
    assert retry_after_seconds(response(429, headers={"Retry-After": "7"})) == 7
    http_date = formatdate(time.time() + 30, usegmt=True)
    assert 28 < retry_after_seconds(response(429, headers={"Retry-After": http_date})) <= 30
    # A resume time already past: a short pause, neither none (a hot loop of 429s) nor long.
    past_ms = str(int((time.time() - 60) * 1000))
    assert 0 < retry_after_seconds(response(429, headers={"X-Retry-After": past_ms})) <= 1
    # No usable header: wait out a whole window of the API's limit, a minute (60 list requests
    # per minute: spec/live-deviations.md), so the next request cannot be refused again.
    assert "60 list requests per minute" in DEVIATIONS.read_text()
    for headers in ({}, {"X-Retry-After": "soon"}, {"Retry-After": "later"}):
        assert retry_after_seconds(response(429, headers=headers)) == ONE_MINUTE, headers


@pytest.mark.parametrize(
    ("status", "url", "stream", "raised"),
    [
        (429, "", "tasks", RateLimitedError),
        (500, "", "tasks", RetriableAPIError),
        (503, "", "tasks", RetriableAPIError),
        (401, "", "tasks", TapPMError),
        (403, "", "tasks", TapPMError),
        (400, "", "tasks", TapPMError),
        (404, "", "tasks", TapPMError),
        (400, "https://x.test/api/1.0/tasks?pageToken=abc", "tasks", PageTokenExpiredError),
        (404, "https://x.test/api/1.0/phases?projectId=1", "phases", PartitionGoneError),
    ],
)
def test_status_codes_are_sorted_into_wait_retry_restart_skip_or_fail(
    streams: dict[str, RocketlaneStream],
    status: int,
    url: str,
    stream: str,
    raised: type[Exception],
) -> None:
    with pytest.raises(raised):
        streams[stream].validate_response(response(status, {"errors": []}, url=url))


def test_bodies_that_are_not_json_or_not_a_page_are_retried(
    streams: dict[str, RocketlaneStream],
) -> None:
    with pytest.raises(RetriableAPIError, match="invalid JSON"):
        streams["tasks"].validate_response(response(200, b'{"data": [{"taskId": 1'))
    with pytest.raises(RetriableAPIError, match="no `data` list"):
        streams["tasks"].validate_response(response(200, {"errors": []}))
    streams["tasks"].validate_response(response(200, {"data": [], "pagination": {}}))


def test_key_message_names_the_setting_not_the_key(streams: dict[str, RocketlaneStream]) -> None:
    with pytest.raises(TapPMError) as caught:
        streams["users"].validate_response(response(401, {"errors": [{"errorMessage": "nope"}]}))
    assert "check api_key" in caught.value.message.lower()
    assert KEY not in caught.value.message


def test_paginator_follows_tokens_and_refuses_loops() -> None:
    paginator = PageTokenPaginator()
    paginator.advance(page(has_more=True, token="t1", ids=(1,)))
    assert paginator.current_value == "t1"
    paginator.advance(page(has_more=True, token="t2", ids=(2,)))
    with pytest.raises(PaginationError, match="twice"):
        paginator.advance(page(has_more=True, token="t1", ids=(3,)))
    with pytest.raises(
        PaginationError, match=r"^the API answered hasMore=true without a nextPageToken$"
    ):
        PageTokenPaginator().advance(page(has_more=True, ids=(1,)))
    done = PageTokenPaginator()
    done.advance(page(has_more=False, token="ignored"))
    assert done.finished


def test_pages_without_new_ids_or_beyond_the_count_end_the_listing() -> None:
    paginator = PageTokenPaginator()
    paginator.advance(page(has_more=True, token="t1", ids=(1, 2)))
    paginator.advance(page(has_more=True, token="t2", ids=(2,)))  # one fruitless page may pass
    with pytest.raises(PaginationError, match="2 pages in a row brought no record"):
        paginator.advance(page(has_more=True, token="t3", ids=(1,)))
    counted = PageTokenPaginator(page_size=1)
    body = {"hasMore": True, "totalRecordCount": 1}
    for index in range(3):  # ceil(1 / 1) = 1 page: 2 x 1 + 2 requests, then no more
        counted.advance(
            response(
                200, {"data": [{"id": index}], "pagination": body | {"nextPageToken": f"t{index}"}}
            )
        )
    with pytest.raises(PaginationError, match="totalRecordCount 1 at page size 1 needs 1"):
        counted.advance(
            response(200, {"data": [{"id": 9}], "pagination": body | {"nextPageToken": "t9"}})
        )


def test_a_page_without_pagination_proves_nothing() -> None:
    body: dict[str, Any]
    for body in ({"data": []}, {"data": [], "pagination": None}, {"data": [], "pagination": []}):
        with pytest.raises(PaginationError, match="not an object"):
            PageTokenPaginator().has_more(response(200, body))
    # Without hasMore and a token, only a count reached ends the listing.
    reached = {"data": [{"id": 1}], "pagination": {"totalRecordCount": 1}}
    assert not PageTokenPaginator().has_more(response(200, reached))
    short = {"data": [{"id": 1}], "pagination": {"totalRecordCount": 2}}
    with pytest.raises(PaginationError, match="after 1 records of the 2"):
        PageTokenPaginator().has_more(response(200, short))


def test_empty_page_with_more_to_come_is_not_the_end() -> None:
    assert PageTokenPaginator().continue_if_empty(page(has_more=True, token="t"))
    assert not PageTokenPaginator().continue_if_empty(page(has_more=False))


def test_timestamps_round_trip_at_millisecond_precision() -> None:
    for epoch_ms in (0, 1_700_000_000_123, 1_735_689_599_999):
        text = ms_to_rfc3339(epoch_ms)
        assert text.endswith("+00:00")
        assert to_epoch_ms(datetime.fromisoformat(text)) == epoch_ms


def test_request_parameters(streams: dict[str, RocketlaneStream]) -> None:
    tasks = streams["tasks"].get_url_params(None, "tok")
    assert tasks["pageToken"] == "tok"
    assert tasks["pageSize"] == 100
    assert tasks["includeAllFields"] == "true"
    assert tasks["includeArchive.eq"] == "true"
    entries = streams["time-entries"].get_url_params({"projectId": 5}, None)
    assert entries["includeDeleted.eq"] == "true"
    assert "deleted" in entries["includeFields"].split(",")
    assert entries["projectId.eq"] == 5
    assert streams["phases"].get_url_params({"projectId": 5}, None)["projectId"] == 5
