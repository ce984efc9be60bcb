"""A small ServiceNow Table API client: paging, Basic or OAuth 2.0, no credential leaks.

HTTP, auth and retries are `ingestion.http_api`'s; this module knows the Table API. DOMAIN §4:
`sysparm_limit` is applied before access rules, so a short or empty page does not mean the end;
follow the `Link: <...>; rel="next"` header, or keep paging until `X-Total-Count` is reached.
Records are ordered by sys_updated_on, sys_id so pages are stable; a page that has expired
(410 Gone, or 404 on a next link) restarts the query from the last timestamp received, and the
records seen twice are dropped.

With `XMO_SERVICENOW_CLIENT_ID` set the pull signs in with OAuth 2.0 at the instance's
`/oauth_token.do`: the password grant when a user and password are set too, the
client-credentials grant otherwise (the instance must allow that grant).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.auth import AuthBase

from ingestion.http_api import (
    ApiClient,
    ApiError,
    Clock,
    OAuthToken,
    RetryPolicy,
    Sleep,
    basic_auth,
)

__all__ = ["Credentials", "RetryPolicy", "ServiceNowClient", "ServiceNowError", "updated_on"]

log = logging.getLogger(__name__)

MAX_RESTARTS = 5
ENV_URL = "XMO_SERVICENOW_URL"
ENV_USER = "XMO_SERVICENOW_USER"
ENV_PASSWORD = "XMO_SERVICENOW_PASSWORD"
ENV_CLIENT_ID = "XMO_SERVICENOW_CLIENT_ID"
ENV_CLIENT_SECRET = "XMO_SERVICENOW_CLIENT_SECRET"
TOKEN_PATH = "oauth_token.do"

# Every error of a pull is an ApiError (`.transient` says whether a later retry may help); the
# orchestration layer catches it under this name.
ServiceNowError = ApiError


class _ExpiredPage(Exception):
    pass


@dataclass(frozen=True)
class Credentials:
    """Basic auth (user and password), or OAuth 2.0 when a client id is set.

    With OAuth, a user and password select the password grant; without them the
    client-credentials grant is used. Secrets never appear in repr.
    """

    user: str = ""
    password: str = field(default="", repr=False)
    client_id: str = ""
    client_secret: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if env is None else env
        user, password = env.get(ENV_USER, ""), env.get(ENV_PASSWORD, "")
        client_id, client_secret = env.get(ENV_CLIENT_ID, ""), env.get(ENV_CLIENT_SECRET, "")
        if client_id or client_secret:
            _require(env, (ENV_CLIENT_ID, ENV_CLIENT_SECRET), "with OAuth")
            if bool(user) != bool(password):
                raise ServiceNowError(
                    f"set both {ENV_USER} and {ENV_PASSWORD} (OAuth password grant) "
                    "or neither (client-credentials grant)"
                )
            return cls(user, password, client_id, client_secret)
        _require(env, (ENV_USER, ENV_PASSWORD), "")
        return cls(user, password)

    @property
    def grant_type(self) -> str | None:
        """The OAuth grant used, or None for Basic auth."""
        if not self.client_id:
            return None
        return "password" if self.user else "client_credentials"

    def hint(self) -> str:
        """The settings to check when the instance refuses these credentials."""
        if self.grant_type is None:
            return f"{ENV_USER} and {ENV_PASSWORD} (user {self.user!r})"
        return f"{ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (OAuth client {self.client_id!r})"

    def token_hint(self) -> str:
        """The settings to check when /oauth_token.do refuses to issue a token."""
        client = f"{ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}"
        if self.grant_type == "password":
            return (
                f"{client} (OAuth client {self.client_id!r}), {ENV_USER} and {ENV_PASSWORD} "
                f"(password grant, user {self.user!r})"
            )
        return (
            f"{client} (OAuth client {self.client_id!r}, client-credentials grant: "
            "the instance must allow it)"
        )

    def token_form(self) -> dict[str, str]:
        """The form fields of the token request (RFC 6749 §4.3 and §4.4)."""
        form = {
            "grant_type": self.grant_type or "",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.grant_type == "password":
            form |= {"username": self.user, "password": self.password}
        return form


def _require(env: Mapping[str, str], names: tuple[str, ...], how: str) -> None:
    missing = [name for name in names if not env.get(name)]
    if missing:
        suffix = f" {how}" if how else ""
        raise ServiceNowError(f"set {' and '.join(missing)} to pull from ServiceNow{suffix}")


def _auth(
    instance_url: str, credentials: Credentials, session: requests.Session, clock: Clock
) -> AuthBase:
    if credentials.grant_type is None:
        return basic_auth(credentials.user, credentials.password)
    return OAuthToken(
        f"{instance_url.rstrip('/')}/{TOKEN_PATH}",
        credentials.token_form(),
        settings=credentials.token_hint(),
        session=session,
        clock=clock,
    )


def updated_on(record: Mapping[str, Any]) -> str:
    """sys_updated_on of a record in either shape (plain or display_value=all)."""
    value = record.get("sys_updated_on")
    if isinstance(value, dict):
        value = value.get("value")
    return str(value or "")


class ServiceNowClient:
    """Reads the Table API of one instance; `api` is the shared HTTP client underneath."""

    def __init__(
        self,
        instance_url: str,
        credentials: Credentials,
        *,
        page_size: int = 1000,
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        session = requests.Session()
        self.api = ApiClient(
            instance_url,
            _auth(instance_url, credentials, session, clock),
            credentials_hint=credentials.hint(),
            retry=retry,
            timeout_s=timeout_s,
            sleep=sleep,
            session=session,
        )
        self.page_size = page_size

    @property
    def requests(self) -> int:
        """Table API requests sent so far, retries included (token requests are not)."""
        return self.api.requests

    def _params(self, query: str, offset: int, fields: list[str] | None) -> dict[str, str]:
        params = {
            "sysparm_query": query,
            "sysparm_limit": str(self.page_size),
            "sysparm_offset": str(offset),
            "sysparm_display_value": "all",
            "sysparm_exclude_reference_link": "true",
        }
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        return params

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
        path = f"api/now/table/{table}"
        offset = 0
        # The first page can only expire with 410; a 404 there means a wrong table.
        response = self.api.get(path, params=self._params(query, offset, fields), allow=(410,))
        while True:
            if response.status_code in (404, 410):
                raise _ExpiredPage
            records = _result(table, response)
            yield from records
            offset += self.page_size
            next_link = response.links.get("next", {}).get("url")
            total = _count(response.headers.get("X-Total-Count"))
            if next_link:
                response = self.api.get(next_link, allow=(404, 410))
            elif (total is not None and offset < total) or (total is None and records):
                response = self.api.get(
                    path, params=self._params(query, offset, fields), allow=(404, 410)
                )
            else:
                return


def _result(table: str, response: requests.Response) -> list[dict[str, Any]]:
    try:
        records = response.json()["result"]
    except (ValueError, KeyError, TypeError) as error:
        raise ServiceNowError(f"{table}: unexpected response ({error})") from None
    if not isinstance(records, list):
        raise ServiceNowError(f"{table}: unexpected response (result is not a list)")
    return records


def _plain(value: Any) -> Any:
    return value.get("value") if isinstance(value, dict) else value


def _count(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
