"""The shared HTTP client's parts that need no server (the pulls test the rest end to end)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from ingestion.http_api import (
    ApiClient,
    ApiError,
    BearerToken,
    RetryPolicy,
    basic_auth,
    retry_after_seconds,
)


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    in_two_minutes = format_datetime(datetime.now(UTC) + timedelta(minutes=2), usegmt=True)
    assert 100 < retry_after_seconds(in_two_minutes) <= 120
    an_hour_ago = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert retry_after_seconds(an_hour_ago) == 0.0


def test_credentials_are_never_sent_to_another_host_than_the_base_url():
    client = ApiClient(
        "https://instance.example",
        BearerToken("t0ken"),
        credentials_hint="X",
        retry=RetryPolicy(max_attempts=1),
        sleep=lambda seconds: None,
    )
    with pytest.raises(ApiError) as error:
        client.get("https://elsewhere.example/api/now/table/incident?sysparm_offset=4")
    assert str(error.value) == (
        "https://elsewhere.example/api/now/table/incident: not on https://instance.example"
    )
    assert client.requests == 0


def test_auth_objects_set_the_header_and_hide_the_secret_in_repr():
    request = requests.Request("GET", "https://instance.example/x").prepare()
    assert BearerToken("t0ken")(request).headers["Authorization"] == "Bearer t0ken"
    assert "t0ken" not in repr(BearerToken("t0ken"))
    # Passwords outside Latin-1 are sent as UTF-8 (requests' own default would fail on them).
    request = requests.Request("GET", "https://instance.example/x").prepare()
    header = basic_auth("jürgen", "pässwörd€")(request).headers["Authorization"]
    assert header == "Basic " + base64.b64encode("jürgen:pässwörd€".encode()).decode()
