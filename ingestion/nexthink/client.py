"""A small Nexthink NQL API client: run a query saved in the instance by its id.

HTTP, retries and the OAuth token are `ingestion.http_api`'s; this module knows the NQL API.
What Nexthink documents (docs.nexthink.com/api, "NQL", "Execute an NQL", "Getting an
authentication token"):

- API credentials are OAuth 2.0 client credentials. A token comes from
  `https://<instance>-login.<region>.nexthink.cloud/oauth2/default/v1/token`: a form POST with
  `grant_type=client_credentials` and `scope=service:integration`, the client id and secret
  as HTTP Basic auth. Requests then carry `Authorization: Bearer <token>`.
- `POST https://<instance>.api.<region>.nexthink.cloud/api/v1/nql/execute` (or `/api/v2/...`)
  with `{"queryId": "#id"}` (and optionally `"parameters": {...}`) runs the NQL API query saved
  under that id (`^#[a-z0-9_]{2,255}$`). `Accept: application/json` answers
  `{"queryId", "executedQuery", "rows", "executionDateTime", "headers": [...], "data": [[...]]}`
  (v1; v2 answers `data` as a list of objects keyed by field and no `headers`), `text/csv` a
  CSV. 404 means no query with that id, 403 a profile without "Manage all NQL API queries".

Not documented by Nexthink, but reported by its users and by client libraries: execute returns
at most 1,000 rows (without saying whether more exist) and times out after a few seconds; the
export endpoint (`/api/v1/nql/export` + `/api/v1/nql/status/{exportId}`) is for bulk results.
An answer that reaches the limit is refused here rather than landed as a truncated day.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import requests

from ingestion.http_api import ApiClient, ApiError, Clock, OAuthToken, RetryPolicy, Sleep

__all__ = [
    "DEFAULT_QUERY_ID",
    "EXECUTE_ROW_LIMIT",
    "NexthinkClient",
    "NexthinkError",
    "NexthinkSettings",
    "NqlResult",
    "RetryPolicy",
    "login_token_url",
    "settings_from_env",
]

ENV_URL = "XMO_NEXTHINK_URL"
ENV_TOKEN_URL = "XMO_NEXTHINK_TOKEN_URL"
ENV_CLIENT_ID = "XMO_NEXTHINK_CLIENT_ID"
ENV_CLIENT_SECRET = "XMO_NEXTHINK_CLIENT_SECRET"
ENV_QUERY_ID = "XMO_NEXTHINK_QUERY_ID"
ENV_API_VERSION = "XMO_NEXTHINK_API_VERSION"

DEFAULT_QUERY_ID = "#xmo_device_day"
API_VERSIONS = ("v1", "v2")
TOKEN_SCOPE = "service:integration"
# The most rows /nql/execute answers with (see the module docstring: reported, not documented).
EXECUTE_ROW_LIMIT = 1000
DOCS_HINT = "see docs/sources.md, Nexthink, 'Large estates'"

_QUERY_ID = re.compile(r"^#[a-z0-9_]{2,255}$")
_API_HOST = re.compile(r"^(?P<instance>[^.]+)\.api\.(?P<region>[^.]+)\.nexthink\.cloud$")

# Every error of a pull is an ApiError (`.transient` says whether a later retry may help).
NexthinkError = ApiError

ResponseFormat = Literal["json", "csv"]


def login_token_url(api_url: str) -> str | None:
    """The token endpoint of an instance's API URL, or None if the URL is not Nexthink's form."""
    host = urlsplit(api_url.strip()).hostname or ""
    match = _API_HOST.match(host.lower())
    if not match:
        return None
    return (
        f"https://{match['instance']}-login.{match['region']}.nexthink.cloud"
        "/oauth2/default/v1/token"
    )


def _check_query_id(query_id: str) -> str:
    if not _QUERY_ID.match(query_id):
        raise NexthinkError(
            f"{ENV_QUERY_ID}: {query_id!r} is not an NQL API query id "
            "('#' then 2-255 lowercase letters, digits or underscores, e.g. #xmo_device_day)"
        )
    return query_id


def _check_api_version(version: str) -> str:
    normalised = version.strip().lower()
    normalised = normalised if normalised.startswith("v") else f"v{normalised}"
    if normalised not in API_VERSIONS:
        raise NexthinkError(
            f"{ENV_API_VERSION}: {version!r} is not one of {', '.join(API_VERSIONS)}"
        )
    return normalised


@dataclass(frozen=True)
class NexthinkSettings:
    """Where and as whom to run the saved query. The secret never appears in repr."""

    url: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    query_id: str = DEFAULT_QUERY_ID
    api_version: str = "v1"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NexthinkSettings:
        env = os.environ if env is None else env
        url = env.get(ENV_URL, "").strip()
        token_url = env.get(ENV_TOKEN_URL, "").strip() or (login_token_url(url) if url else "")
        missing = [
            name for name in (ENV_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET) if not env.get(name)
        ]
        if url and not token_url:
            missing.append(f"{ENV_TOKEN_URL} (not derivable from {url})")
        if missing:
            raise NexthinkError(f"set {', '.join(missing)} to pull device days from Nexthink")
        return cls(
            url=url,
            token_url=token_url or "",
            client_id=env[ENV_CLIENT_ID],
            client_secret=env[ENV_CLIENT_SECRET],
            query_id=_check_query_id(env.get(ENV_QUERY_ID) or DEFAULT_QUERY_ID),
            api_version=_check_api_version(env.get(ENV_API_VERSION) or "v1"),
        )


def settings_from_env(env: Mapping[str, str] | None = None) -> NexthinkSettings:
    """The XMO_NEXTHINK_* settings; an error names every missing one."""
    return NexthinkSettings.from_env(env)


@dataclass(frozen=True)
class NqlResult:
    """One answer of the execute endpoint: the headers and every row (None for a null)."""

    query_id: str
    headers: list[str]
    rows: list[list[str | None]]
    executed_query: str | None = None


class NexthinkClient:
    """Runs one saved NQL API query; `api` is the shared HTTP client underneath."""

    def __init__(
        self,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        query_id: str = DEFAULT_QUERY_ID,
        api_version: str = "v1",
        response_format: ResponseFormat = "json",
        row_limit: int = EXECUTE_ROW_LIMIT,
        scope: str = TOKEN_SCOPE,
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        if response_format not in ("json", "csv"):
            raise ValueError(f"response_format must be 'json' or 'csv', got {response_format!r}")
        self.query_id = _check_query_id(query_id)
        self.api_version = _check_api_version(api_version)
        self.response_format = response_format
        self.row_limit = row_limit
        credentials = f"{ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (API credentials {client_id!r}"
        session = requests.Session()
        token = OAuthToken(
            token_url,
            {"grant_type": "client_credentials", "scope": scope},
            settings=f"{credentials}) and {ENV_TOKEN_URL}",
            session=session,
            clock=clock,
            client_auth=(client_id, client_secret),
        )
        self.api = ApiClient(
            base_url,
            token,
            credentials_hint=(
                f"{credentials}, whose profile needs the permission 'Manage all NQL API queries')"
            ),
            retry=retry,
            timeout_s=timeout_s,
            sleep=sleep,
            session=session,
        )

    @classmethod
    def from_settings(cls, settings: NexthinkSettings, **kwargs: Any) -> NexthinkClient:
        return cls(
            settings.url,
            settings.token_url,
            settings.client_id,
            settings.client_secret,
            query_id=settings.query_id,
            api_version=settings.api_version,
            **kwargs,
        )

    @property
    def requests(self) -> int:
        """NQL API requests sent so far, retries included (token requests are not)."""
        return self.api.requests

    @property
    def execute_path(self) -> str:
        return f"api/{self.api_version}/nql/execute"

    def close(self) -> None:
        self.api.close()

    def execute(self, parameters: Mapping[str, str] | None = None) -> NqlResult:
        """Run the saved query; every row it returns, or an error (never a truncated answer)."""
        body: dict[str, Any] = {"queryId": self.query_id}
        if parameters:
            body["parameters"] = dict(parameters)
        accept = "text/csv" if self.response_format == "csv" else "application/json"
        response = self.api.request(
            "POST", self.execute_path, json=body, headers={"Accept": accept}, allow=(404,)
        )
        where = f"{self.api.base_url}{self.execute_path}"
        if response.status_code == 404:
            raise NexthinkError(
                f"{where}: no NQL API query {self.query_id} (save it under Administration > "
                f"NQL API queries, or set {ENV_QUERY_ID})"
            )
        if self.response_format == "csv":
            result = _from_csv(where, self.query_id, response)
        else:
            result = _from_json(where, self.query_id, response)
        if len(result.rows) >= self.row_limit:
            raise NexthinkError(
                f"{where}: {self.query_id} returned {len(result.rows)} rows, the most the execute "
                f"endpoint returns ({self.row_limit}), so the answer is probably cut short and "
                f"nothing was landed; split the query or use the export endpoint "
                f"(/api/v1/nql/export), {DOCS_HINT}"
            )
        return result


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _from_json(where: str, query_id: str, response: requests.Response) -> NqlResult:
    try:
        body = response.json()
    except ValueError:
        raise NexthinkError(f"{where}: the answer is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise NexthinkError(f"{where}: unexpected answer (no `data` list)")
    data: list[Any] = body["data"]
    headers = body.get("headers")
    if data and all(isinstance(row, dict) for row in data):
        # API v2: one object per row, keyed by field; the first row's order, then any newcomers.
        if not isinstance(headers, list):
            headers = list(dict.fromkeys(key for row in data for key in row))
        rows = [[_cell(row.get(name)) for name in headers] for row in data]
    elif all(isinstance(row, list) for row in data):
        if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
            raise NexthinkError(f"{where}: unexpected answer (no `headers` list for the rows)")
        rows = [[_cell(value) for value in row] for row in data]
    else:
        raise NexthinkError(
            f"{where}: unexpected answer (`data` rows are neither lists nor objects)"
        )
    declared = body.get("rows")
    if isinstance(declared, int) and not isinstance(declared, bool) and declared != len(rows):
        raise NexthinkError(
            f"{where}: the answer says {declared} rows but carries {len(rows)}; nothing was landed"
        )
    executed = body.get("executedQuery")
    return NqlResult(
        query_id=str(body.get("queryId") or query_id),
        headers=[str(h) for h in headers],
        rows=rows,
        executed_query=executed if isinstance(executed, str) else None,
    )


def _from_csv(where: str, query_id: str, response: requests.Response) -> NqlResult:
    # requests would decode a text/* answer without a charset as Latin-1; the API sends UTF-8.
    try:
        text = response.content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NexthinkError(f"{where}: the CSV answer is not UTF-8") from None
    records = list(csv.reader(io.StringIO(text, newline="")))
    records = [record for record in records if record]  # a trailing blank line is no row
    if not records:
        raise NexthinkError(f"{where}: the CSV answer has no header line")
    header, *rows = records
    return NqlResult(
        query_id=query_id,
        headers=header,
        rows=[[value if value != "" else None for value in row] for row in rows],
    )
