"""A reader of HappySignals' API v2 (https://<client>.<environment>.happysignals.com/api/v2/).

What HappySignals documents publicly (support.happysignals.com, "HappySignals API"): the base
URL, a per-client API token sent as a bearer token in the Authorization header (base64-encoded,
"as per RFC 6750"), collections in a `{"meta": {"count", "page", "pages"}, "items": [...]}`
envelope, and Django-ORM lookups as filters (`<field>__gte=<value>`). It does not list the
endpoints, the fields of a response or the paging parameter, so those are settings here with
assumed defaults (`responses`, `updated_at`, `page`); docs/sources.md says what to check.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from ingestion.http_api import ApiClient, ApiError, BearerToken, RetryPolicy, Sleep

__all__ = ["HappySignalsApi", "HappySignalsClient", "HappySignalsError", "RetryPolicy"]

log = logging.getLogger(__name__)

ENV_URL = "XMO_HAPPYSIGNALS_URL"
ENV_TOKEN = "XMO_HAPPYSIGNALS_TOKEN"
ENV_TOKEN_ENCODING = "XMO_HAPPYSIGNALS_TOKEN_ENCODING"
TOKEN_ENCODINGS = ("base64", "plain")

# Every error of a pull is an ApiError (`.transient` says whether a later retry may help).
HappySignalsError = ApiError


@dataclass(frozen=True)
class HappySignalsApi:
    """The parts of the API the public description leaves open, with the assumed defaults."""

    endpoint: str = "responses"
    # The item field that says when a response last changed; filtered with `<field>__gte`.
    updated_field: str = "updated_at"
    page_param: str = "page"
    # The documentation asks for the key base64-encoded in the Authorization header.
    token_encoding: str = "base64"


def token_from_env(env: Mapping[str, str] | None = None) -> str:
    """The API token, read only when pulling; it is never copied into settings or logs."""
    env = os.environ if env is None else env
    token = env.get(ENV_TOKEN, "")
    if not token:
        raise HappySignalsError(
            f"set {ENV_TOKEN} to pull from HappySignals (the API token HappySignals support issues)"
        )
    return token


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time as aware UTC (a value without an offset is UTC); None if it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """UTC ISO-8601 with a `Z`, as Django's datetime parsing accepts it in a filter."""
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="auto")
    return f"{text}Z"


class HappySignalsClient:
    """Pages through one collection endpoint; `api` is the shared HTTP client underneath."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        api: HappySignalsApi | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.settings = api or HappySignalsApi()
        if self.settings.token_encoding not in TOKEN_ENCODINGS:
            raise HappySignalsError(
                f"{ENV_TOKEN_ENCODING}={self.settings.token_encoding!r} is not one of "
                f"{', '.join(TOKEN_ENCODINGS)}"
            )
        sent = token
        hint = f"{ENV_TOKEN} (sent as given, {ENV_TOKEN_ENCODING}=plain)"
        if self.settings.token_encoding == "base64":
            sent = base64.b64encode(token.encode()).decode()
            hint = (
                f"{ENV_TOKEN} (sent base64-encoded; {ENV_TOKEN_ENCODING}=plain sends it as given)"
            )
        self.api = ApiClient(
            base_url,
            BearerToken(sent),
            credentials_hint=hint,
            retry=retry,
            timeout_s=timeout_s,
            sleep=sleep,
            session=requests.Session(),
        )

    @property
    def requests(self) -> int:
        """Requests sent so far, retries included."""
        return self.api.requests

    def iter_items(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every item changed at or after `since` (all of them without it), page by page.

        Pages are asked for until the answer's `meta.pages`; an item seen twice (pages shift when
        responses arrive during the pull) is yielded once.
        """
        endpoint = self.settings.endpoint.strip("/")
        params = {}
        if since is not None:
            params[f"{self.settings.updated_field}__gte"] = format_time(since)
        seen: set[str] = set()
        page = 1
        while True:
            response = self.api.get(
                endpoint, params={**params, self.settings.page_param: str(page)}
            )
            items, pages = _envelope(endpoint, response)
            for item in items:
                key = _identity(item)
                if key in seen:
                    continue
                seen.add(key)
                yield item
            if page >= pages:
                return
            page += 1


def _identity(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, default=str)


def _envelope(endpoint: str, response: requests.Response) -> tuple[list[dict[str, Any]], int]:
    try:
        body = response.json()
        items, pages = body["items"], int(body["meta"]["pages"])
    except (ValueError, KeyError, TypeError) as error:
        raise HappySignalsError(
            f"{endpoint}: unexpected response, not the meta/items envelope ({type(error).__name__}"
            f": {error}); check XMO_HAPPYSIGNALS_URL and XMO_HAPPYSIGNALS_ENDPOINT"
        ) from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise HappySignalsError(f"{endpoint}: unexpected response (items is not a list of objects)")
    return items, pages
