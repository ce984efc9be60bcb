"""A small ServiceNow Table API client: paging, retries with backoff, no credential leaks.

DOMAIN §4: `sysparm_limit` is applied before access rules, so a short or empty page does not mean
the end; follow the `Link: <...>; rel="next"` header, or keep paging until `X-Total-Count` is
reached. Rate limits answer 429 with `Retry-After`. Records are ordered by sys_updated_on, sys_id
so pages are stable; a page that has expired (410 Gone, or 404 on a next link) restarts the
query from the last timestamp received, and the records seen twice are dropped.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MAX_RESTARTS = 5
ENV_URL = "XMO_SERVICENOW_URL"
ENV_USER = "XMO_SERVICENOW_USER"
ENV_PASSWORD = "XMO_SERVICENOW_PASSWORD"


class ServiceNowError(Exception):
    """A pull that cannot go on; the message names the table and status, never credentials.

    `transient` is true when the instance was unreachable or overloaded after every retry, so
    trying again later may work; credentials, permissions and bad answers need a person.
    """

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class _ExpiredPage(Exception):
    pass


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if env is None else env
        missing = [name for name in (ENV_USER, ENV_PASSWORD) if not env.get(name)]
        if missing:
            raise ServiceNowError(f"set {' and '.join(missing)} to pull from ServiceNow")
        return cls(env[ENV_USER], env[ENV_PASSWORD])

    def header(self) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return f"Basic {token}"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return max(backoff, retry_after or 0.0)


@dataclass
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


def _next_link(headers: Mapping[str, str]) -> str | None:
    link = headers.get("Link") or headers.get("link") or ""
    for part in link.split(","):
        match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', part)
        if match:
            return match.group(1)
    return None


def updated_on(record: Mapping[str, Any]) -> str:
    """sys_updated_on of a record in either shape (plain or display_value=all)."""
    value = record.get("sys_updated_on")
    if isinstance(value, dict):
        value = value.get("value")
    return str(value or "")


class ServiceNowClient:
    def __init__(
        self,
        instance_url: str,
        credentials: Credentials,
        *,
        page_size: int = 1000,
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = instance_url.rstrip("/")
        self._auth = credentials.header()
        self.user = credentials.user
        self.page_size = page_size
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self._sleep = sleep
        self.requests = 0

    def _request(self, url: str) -> _Response:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "Authorization": self._auth}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return _Response(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return _Response(error.code, dict(error.headers or {}), error.read() or b"")

    def get(self, url: str, *, is_next_link: bool = False) -> _Response:
        """GET with retries: 429 waits Retry-After (at least), 5xx and network errors back off."""
        shown = url.split("?")[0]
        for attempt in range(1, self.retry.max_attempts + 1):
            self.requests += 1
            try:
                response = self._request(url)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                reason = getattr(error, "reason", error)
                if attempt == self.retry.max_attempts:
                    raise ServiceNowError(
                        f"{shown}: unreachable ({reason})", transient=True
                    ) from None
                delay = self.retry.delay(attempt)
                log.warning("%s unreachable (%s); retry %s in %.1fs", shown, reason, attempt, delay)
                self._sleep(delay)
                continue
            status = response.status
            if status == 200:
                return response
            if status in (401, 403):
                raise ServiceNowError(
                    f"{shown}: HTTP {status}, check the credentials of {self.user!r}"
                )
            if status == 410 or (status == 404 and is_next_link):
                raise _ExpiredPage
            if status == 429 or status >= 500:
                if attempt == self.retry.max_attempts:
                    raise ServiceNowError(
                        f"{shown}: HTTP {status} after {attempt} attempts", transient=True
                    )
                retry_after = _seconds(response.headers.get("Retry-After"))
                delay = self.retry.delay(attempt, retry_after)
                log.warning("%s: HTTP %s; retry %s in %.1fs", shown, status, attempt, delay)
                self._sleep(delay)
                continue
            raise ServiceNowError(f"{shown}: HTTP {status}: {response.body[:200]!r}")
        raise ServiceNowError(f"{shown}: no answer")  # pragma: no cover - loop always returns

    def _url(self, table: str, query: str, offset: int, fields: list[str] | None) -> str:
        params = {
            "sysparm_query": query,
            "sysparm_limit": str(self.page_size),
            "sysparm_offset": str(offset),
            "sysparm_display_value": "all",
            "sysparm_exclude_reference_link": "true",
        }
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        return f"{self.base}/api/now/table/{table}?{urllib.parse.urlencode(params)}"

    def iter_records(
        self, table: str, since: str | None = None, fields: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of `table` updated at or after `since` (UTC 'YYYY-MM-DD HH:MM:SS')."""
        seen: set[tuple[str, str]] = set()
        cursor = since
        for _restart in range(MAX_RESTARTS + 1):
            try:
                for record in self._pages(table, cursor, fields):
                    key = (str(_plain(record.get("sys_id"))), updated_on(record))
                    if key in seen:
                        continue
                    seen.add(key)
                    cursor = max(cursor or "", updated_on(record)) or cursor
                    yield record
                return
            except _ExpiredPage:
                log.warning("%s: a page expired; restarting from %s", table, cursor)
        raise ServiceNowError(f"{table}: pages kept expiring ({MAX_RESTARTS} restarts)")

    def _pages(
        self, table: str, since: str | None, fields: list[str] | None
    ) -> Iterator[dict[str, Any]]:
        order = "ORDERBYsys_updated_on^ORDERBYsys_id"
        query = f"sys_updated_on>={since}^{order}" if since else order
        offset = 0
        url = self._url(table, query, offset, fields)
        is_next = False
        while True:
            response = self.get(url, is_next_link=is_next)
            try:
                records = json.loads(response.body.decode("utf-8"))["result"]
            except (ValueError, KeyError, TypeError) as error:
                raise ServiceNowError(f"{table}: unexpected response ({error})") from None
            yield from records
            next_link = _next_link(response.headers)
            total = _seconds(response.headers.get("X-Total-Count"))
            offset += self.page_size
            if next_link:
                url, is_next = next_link, True
            elif (total is not None and offset < total) or (total is None and records):
                url, is_next = self._url(table, query, offset, fields), True
            else:
                return


def _plain(value: Any) -> Any:
    return value.get("value") if isinstance(value, dict) else value


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
