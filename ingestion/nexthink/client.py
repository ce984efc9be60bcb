"""A small Nexthink NQL API client: run a query saved in the instance by its id.

HTTP, retries and the OAuth token are `ingestion.http_api`'s; this module knows the NQL API.
What Nexthink documents (docs.nexthink.com/api, "NQL", "Execute an NQL", "Export an NQL",
"Models", "Getting an authentication token"):

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
- `POST .../api/v1/nql/export` with `{"queryId", "parameters", "compression"}` (`compression`
  one of NONE, GZIP, ZSTD; unset means none) starts the query and answers `{"exportId"}`;
  `GET .../api/v1/nql/status/{exportId}` answers `{"status", "resultsFileUrl",
  "errorDescription"}`, `status` one of SUBMITTED, IN_PROGRESS, ERROR, COMPLETED, with HTTP 206
  when the results were cut at the maximum the licence allows, 404 for an unknown export and
  429 with `Retry-After` at the daily request limit. The results file is "a file in S3".

Not documented by Nexthink, but reported by its users and by client libraries: execute returns
at most 1,000 rows (without saying whether more exist) and times out after a few seconds, so an
answer that reaches the limit is refused here (`ExecuteRowLimitError`) rather than landed as a
truncated day; `resultsFileUrl` is a pre-signed URL that must be fetched without the bearer
token. Assumed (not described anywhere public): the results file is a CSV with a header line
named as the execute endpoint's `headers`, in UTF-8; it is recognised by its first bytes
(gzip, a zip of one member, else plain CSV) whatever compression was asked for.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import re
import time
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import quote, urlsplit

import requests
from requests.auth import AuthBase

from ingestion.http_api import ApiClient, ApiError, Clock, OAuthToken, RetryPolicy, Sleep

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_EXPORT_TIMEOUT_S",
    "DEFAULT_QUERY_ID",
    "EXECUTE_ROW_LIMIT",
    "METHODS",
    "ExecuteRowLimitError",
    "NexthinkClient",
    "NexthinkError",
    "NexthinkSettings",
    "NqlResult",
    "RetryPolicy",
    "login_token_url",
    "open_results_csv",
    "settings_from_env",
]

ENV_URL = "XMO_NEXTHINK_URL"
ENV_TOKEN_URL = "XMO_NEXTHINK_TOKEN_URL"
ENV_CLIENT_ID = "XMO_NEXTHINK_CLIENT_ID"
ENV_CLIENT_SECRET = "XMO_NEXTHINK_CLIENT_SECRET"
ENV_QUERY_ID = "XMO_NEXTHINK_QUERY_ID"
ENV_API_VERSION = "XMO_NEXTHINK_API_VERSION"
ENV_METHOD = "XMO_NEXTHINK_METHOD"
ENV_EXPORT_TIMEOUT = "XMO_NEXTHINK_EXPORT_TIMEOUT_S"

DEFAULT_QUERY_ID = "#xmo_device_day"
API_VERSIONS = ("v1", "v2")
TOKEN_SCOPE = "service:integration"
# The most rows /nql/execute answers with (see the module docstring: reported, not documented).
EXECUTE_ROW_LIMIT = 1000
DOCS_HINT = "see docs/sources.md, Nexthink, 'Large estates'"
# How a pull asks: `execute` only, `export` only, or `auto` (execute, and the export when the
# execute answer reaches its row limit).
METHODS = ("auto", "execute", "export")
DEFAULT_METHOD = "auto"
# The longest a pull waits for an export to complete, and the polling interval's start and cap.
DEFAULT_EXPORT_TIMEOUT_S = 1800.0
POLL_FIRST_S = 2.0
POLL_MAX_S = 30.0
POLL_GROWTH = 1.5
# What the pull asks the export to compress with (documented: NONE, GZIP, ZSTD). GZIP is the
# one the standard library reads; the file is recognised by its first bytes whatever it is.
EXPORT_COMPRESSION = "GZIP"
EXPORT_PENDING = ("SUBMITTED", "IN_PROGRESS")
DOWNLOAD_CHUNK = 1 << 20  # bytes read and written at a time: memory stays flat at any size
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

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


def check_method(method: str) -> str:
    """`auto`, `execute` or `export` (any case), or an error naming the variable."""
    normalised = method.strip().lower()
    if normalised not in METHODS:
        raise NexthinkError(f"{ENV_METHOD}: {method!r} is not one of {', '.join(METHODS)}")
    return normalised


def _check_export_timeout(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise NexthinkError(f"{ENV_EXPORT_TIMEOUT}: {raw!r} is not a number of seconds above 0")
    return seconds


class ExecuteRowLimitError(ApiError):
    """The execute answer reached the endpoint's row limit: probably cut short, never landed."""

    def __init__(self, message: str, *, rows: int, limit: int) -> None:
        super().__init__(message)
        self.rows = rows
        self.limit = limit


@dataclass(frozen=True)
class NexthinkSettings:
    """Where and as whom to run the saved query. The secret never appears in repr."""

    url: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    query_id: str = DEFAULT_QUERY_ID
    api_version: str = "v1"
    method: str = DEFAULT_METHOD
    export_timeout_s: float = DEFAULT_EXPORT_TIMEOUT_S

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
            method=check_method(env.get(ENV_METHOD) or DEFAULT_METHOD),
            export_timeout_s=_check_export_timeout(
                env.get(ENV_EXPORT_TIMEOUT) or str(DEFAULT_EXPORT_TIMEOUT_S)
            ),
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
        export_timeout_s: float = DEFAULT_EXPORT_TIMEOUT_S,
        poll_first_s: float = POLL_FIRST_S,
        poll_max_s: float = POLL_MAX_S,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        if response_format not in ("json", "csv"):
            raise ValueError(f"response_format must be 'json' or 'csv', got {response_format!r}")
        self.query_id = _check_query_id(query_id)
        self.api_version = _check_api_version(api_version)
        self.response_format = response_format
        self.row_limit = row_limit
        self.export_timeout_s = export_timeout_s
        self.poll_first_s = poll_first_s
        self.poll_max_s = max(poll_max_s, poll_first_s)
        self.file_requests = 0  # results-file downloads (attempts), outside the API
        self._timeout_s = timeout_s
        self._sleep = sleep
        self._clock = clock
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
            **{"export_timeout_s": settings.export_timeout_s, **kwargs},
        )

    @property
    def requests(self) -> int:
        """Requests sent so far, retries included: the NQL API's and results-file downloads
        (token requests are not counted)."""
        return self.api.requests + self.file_requests

    @property
    def execute_path(self) -> str:
        return f"api/{self.api_version}/nql/execute"

    @property
    def export_path(self) -> str:
        return "api/v1/nql/export"  # the export API has v1 only

    def status_path(self, export_id: str) -> str:
        return f"api/v1/nql/status/{quote(export_id, safe='')}"

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
            raise ExecuteRowLimitError(
                f"{where}: {self.query_id} returned {len(result.rows)} rows, the most the execute "
                f"endpoint returns ({self.row_limit}), so the answer is probably cut short and "
                f"nothing was landed; use the export endpoint (/api/v1/nql/export: set "
                f"{ENV_METHOD}=auto or export) or split the query, {DOCS_HINT}",
                rows=len(result.rows),
                limit=self.row_limit,
            )
        return result

    # The export API: start the saved query, wait for its results file, download it.

    def start_export(self, parameters: Mapping[str, str] | None = None) -> str:
        """Start an export of the saved query; its export id."""
        body: dict[str, Any] = {"queryId": self.query_id, "compression": EXPORT_COMPRESSION}
        if parameters:
            body["parameters"] = dict(parameters)
        response = self.api.request("POST", self.export_path, json=body, allow=(404,))
        where = f"{self.api.base_url}{self.export_path}"
        if response.status_code == 404:
            raise NexthinkError(
                f"{where}: no NQL API query {self.query_id} (save it under Administration > "
                f"NQL API queries, or set {ENV_QUERY_ID})"
            )
        body = _json_object(where, response)
        export_id = body.get("exportId")
        if not isinstance(export_id, str) or not export_id.strip():
            raise NexthinkError(f"{where}: unexpected answer (no `exportId`)")
        log.info("%s: export %s started", self.query_id, export_id)
        return export_id

    def wait_for_export(self, export_id: str) -> str:
        """Poll the export's status until it is COMPLETED; the results file's URL.

        The interval grows from `poll_first_s` by half each time up to `poll_max_s`, and the
        wait ends after `export_timeout_s` (a transient error: the export may be slow today).
        ERROR, a results file cut at the licence's maximum (HTTP 206) and an unknown export are
        errors that need a person.
        """
        path = self.status_path(export_id)
        where = f"{self.api.base_url}{path}"
        started = self._clock()
        interval = self.poll_first_s
        while True:
            response = self.api.request("GET", path, allow=(404,))
            if response.status_code == 404:
                raise NexthinkError(f"{where}: no export {export_id} (has it expired?)")
            if response.status_code == 206:  # whatever the status says: the file is cut
                raise NexthinkError(
                    f"{where}: export {export_id} of {self.query_id} was cut at the maximum "
                    "number of results the Nexthink licence allows (HTTP 206 Partial Content), "
                    f"so nothing was landed; split the query, {DOCS_HINT}"
                )
            body = _json_object(where, response)
            status = body.get("status")
            if status == "COMPLETED":
                url = body.get("resultsFileUrl")
                if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
                    raise NexthinkError(
                        f"{where}: export {export_id} is COMPLETED without a `resultsFileUrl`"
                    )
                return url
            if status == "ERROR":
                description = " ".join(str(body.get("errorDescription") or "").split())
                description = description[:500] or "no errorDescription given"
                raise NexthinkError(
                    f"{where}: export {export_id} of {self.query_id} failed in Nexthink: "
                    f"{description}; nothing was landed"
                )
            if status not in EXPORT_PENDING:
                raise NexthinkError(f"{where}: export {export_id} has unknown status {status!r}")
            waited = self._clock() - started
            remaining = self.export_timeout_s - waited
            if remaining <= 0:
                raise NexthinkError(
                    f"{where}: export {export_id} of {self.query_id} still {status} after "
                    f"{waited:.0f} s, the longest {ENV_EXPORT_TIMEOUT} ({self.export_timeout_s:g}) "
                    "allows; nothing was landed (raise it for a large estate, or pull later)",
                    transient=True,
                )
            log.info("export %s: %s, next look in %.0f s", export_id, status, interval)
            self._sleep(min(interval, remaining))
            interval = min(interval * POLL_GROWTH, self.poll_max_s)

    def download_results(self, url: str, destination: Path) -> int:
        """Stream the results file to `destination` in chunks; its size in bytes.

        The URL is pre-signed and on another host (S3): it is fetched with a session of its
        own and no Authorization header (not even one from ~/.netrc), with the same retry policy
        as the API (429 waits at least Retry-After; 5xx and network errors back off). A
        download broken off half-way starts again from the beginning.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        shown = url.split("?", 1)[0]  # the query holds the URL's signature: never shown
        policy = self.api.retry
        files = ApiClient(
            origin,
            _NoAuthorization(),
            credentials_hint=(
                "the export's resultsFileUrl (a pre-signed URL that expires: pull again)"
            ),
            retry=policy,
            timeout_s=self._timeout_s,
            sleep=self._sleep,
            session=requests.Session(),
        )
        broken = (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        )
        attempt = 0
        try:
            while True:
                attempt += 1
                size = 0
                try:
                    response = files.request("GET", url, stream=True, headers={"Accept": "*/*"})
                    with response, destination.open("wb") as out:
                        for chunk in response.iter_content(DOWNLOAD_CHUNK):
                            out.write(chunk)
                            size += len(chunk)
                    return size
                except broken as error:
                    if attempt >= policy.max_attempts:
                        raise NexthinkError(
                            f"{shown}: download broken off {attempt} times "
                            f"({type(error).__name__}); nothing was landed",
                            transient=True,
                        ) from None
                    delay = min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1))
                    log.warning("%s: download broken off; again in %.1fs", shown, delay)
                    self._sleep(delay)
        finally:
            self.file_requests += files.requests
            files.close()

    def export(self, destination: Path, parameters: Mapping[str, str] | None = None) -> str:
        """Run the saved query through the export API into `destination`; the export id."""
        export_id = self.start_export(parameters)
        url = self.wait_for_export(export_id)
        self.download_results(url, destination)
        return export_id


class _NoAuthorization(AuthBase):
    """No credentials at all: the pre-signed URL is the credential (and S3 refuses a second)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


def _json_object(where: str, response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise NexthinkError(f"{where}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise NexthinkError(f"{where}: unexpected answer (not a JSON object)")
    return body


@contextmanager
def open_results_csv(path: Path) -> Iterator[TextIO]:
    """The downloaded results file as UTF-8 text, decompressed on the fly when it is gzip or a
    zip of one member (recognised by their first bytes), else read as plain CSV."""
    with path.open("rb") as probe:
        magic = probe.read(4)
    archive: zipfile.ZipFile | None = None
    try:
        if magic.startswith(GZIP_MAGIC):
            stream: TextIO = gzip.open(path, "rt", encoding="utf-8-sig", newline="")
        elif magic == ZIP_MAGIC:
            archive = zipfile.ZipFile(path)
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) != 1:
                names = ", ".join(info.filename for info in members) or "none"
                archive.close()
                raise NexthinkError(
                    f"the export's results file is a zip of {len(members)} files ({names}), "
                    "not of one CSV; nothing was landed"
                )
            stream = io.TextIOWrapper(archive.open(members[0]), encoding="utf-8-sig", newline="")
        elif magic == ZSTD_MAGIC:
            raise NexthinkError(
                "the export's results file is Zstandard-compressed, which this pull cannot "
                f"read (it asks for {EXPORT_COMPRESSION}); nothing was landed"
            )
        else:
            stream = path.open("r", encoding="utf-8-sig", newline="")
    except (OSError, zipfile.BadZipFile) as error:
        if archive is not None:
            archive.close()
        raise NexthinkError(
            f"the export's results file cannot be opened ({type(error).__name__}); "
            "nothing was landed"
        ) from None
    try:
        yield stream
    finally:
        stream.close()
        if archive is not None:
            archive.close()


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
