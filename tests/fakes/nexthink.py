"""A Nexthink NQL API stand-in on 127.0.0.1 for tests (the remote instance is outside).

It serves the parts of the real API our client relies on (docs.nexthink.com/api):

- POST /oauth2/default/v1/token: the client-credentials grant, the client id and secret as HTTP
  Basic auth, a form body; issues expiring bearer tokens. A refused client gets `token_refusal`
  (an Okta-style 401 `invalid_client`, as the instance's login host answers).
- POST /api/v1/nql/execute and /api/v2/nql/execute: the bearer token, a JSON body whose
  `queryId` must name the saved query (404 otherwise), `Accept: application/json` (v1: `headers`
  and `data` arrays; v2: `data` objects) or `text/csv`, 406 for anything else. At most
  `row_limit` rows are returned, without saying that more exist (as the real endpoint does).

- POST /api/v1/nql/export: the bearer token and `{"queryId", "parameters"?, "compression"?}`;
  answers `{"exportId"}` (404 for another query id).
- GET /api/v1/nql/status/{exportId}: `export_pending` statuses on successive polls (SUBMITTED,
  IN_PROGRESS), then `export_outcome`: COMPLETED with a `resultsFileUrl` on the file host, ERROR
  with `errorDescription`, PARTIAL (HTTP 206, the licence's maximum reached) or IN_PROGRESS
  forever. The results file holds every row of `data` (no row limit), as a CSV with the
  headers; gzip when the export asked for GZIP, or as `results_compression` forces
  (none/gzip/zip), or `results_file` as given.

`FakeFileHost` is the results files' host (S3 in real life): another server on 127.0.0.1 on
another port. It serves a file only with its URL's signature and, like S3 with a pre-signed
URL, refuses a request that carries an Authorization header too; it records every request's
headers so that a test can assert the token never reached it.

A token stops working after `token_uses` requests (answered 401, as an expired one is); faults
are injected by execute request number (1-based), by status request number (`status_faults`)
and by file request number (`FakeFileHost.faults`).
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.local_server import JsonHandler, LocalServer

TOKEN_PATH = "/oauth2/default/v1/token"


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeFileHost(LocalServer):
    """Pre-signed results files on another origin; `requests` records what reached it."""

    files: dict[str, bytes] = field(default_factory=dict)  # path -> content
    signature: str = "c2lnbmVkLWJ5LWZha2UtczM"
    expired: bool = False  # every URL handed out has expired (403, as S3 answers)
    cut_off: int = 0  # how many downloads break off half-way (the connection drops)
    faults: dict[int, Fault] = field(default_factory=dict)  # request number -> fault
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        host = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                host.requests.append({"path": parts.path, "headers": dict(self.headers)})
                fault = host.faults.get(len(host.requests))
                if fault is not None:
                    return self._send(fault.status, {"message": "fault"}, fault.headers)
                if "Authorization" in self.headers:
                    return self._send_bytes(
                        400,
                        b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism "
                        b"allowed</Message></Error>",
                        "application/xml",
                    )
                if host.expired or query.get("X-Amz-Signature") != host.signature:
                    return self._send_bytes(403, b"<Error>AccessDenied</Error>", "application/xml")
                if parts.path not in host.files:
                    return self._send_bytes(404, b"<Error>NoSuchKey</Error>", "application/xml")
                content = host.files[parts.path]
                if host.cut_off > 0:
                    host.cut_off -= 1
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content[: len(content) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                return self._send_bytes(200, content, "binary/octet-stream")

        self.serve(Handler)

    def publish(self, name: str, content: bytes) -> str:
        """Serve `content` under /exports/<name>; its pre-signed URL."""
        path = f"/exports/{name}"
        self.files[path] = content
        query = urllib.parse.urlencode(
            {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Signature": self.signature}
        )
        return f"{self.root}{path}?{query}"


def results_csv(headers: list[str], data: list[list[Any]]) -> bytes:
    """What the fake exports: a CSV of the headers and every row, nulls as empty fields."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(["" if v is None else v for v in row] for row in data)
    return out.getvalue().encode()


def compress(content: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(content, mtime=0)
    if compression == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("export.csv", content)
        return buffer.getvalue()
    return content


@dataclass
class FakeNexthink(LocalServer):
    headers: list[str]
    data: list[list[Any]]
    query_id: str = "#xmo_device_day"
    client_id: str = "xmo-pipeline"
    client_secret: str = "Nx-cl1ent-S3cret-value"
    expires_in: int = 900
    token_uses: int | None = None  # requests a token serves before it is refused
    row_limit: int = 1000
    declared_rows: int | None = None  # `rows` to claim instead of the true count
    faults: dict[int, Fault] = field(default_factory=dict)  # execute request number -> fault
    token_refusal: tuple[int, dict[str, str]] = (
        401,
        {"error": "invalid_client", "error_description": "Invalid value for 'client_id'."},
    )
    # The export API: where results files go, the statuses before the outcome, the outcome
    # (COMPLETED, ERROR, PARTIAL for a 206, IN_PROGRESS for never), and the file's form.
    file_host: FakeFileHost | None = None
    export_pending: list[str] = field(default_factory=lambda: ["SUBMITTED", "IN_PROGRESS"])
    export_outcome: str = "COMPLETED"
    export_error: str = "NQL query failed: timeout while reading device_performance.events"
    results_compression: str | None = None  # none/gzip/zip; None: as the export asked
    results_file: bytes | None = None  # served as is instead of one made from `data`
    status_faults: dict[int, Fault] = field(default_factory=dict)  # status request number
    exports: list[dict[str, Any]] = field(default_factory=list)  # bodies of export requests
    status_requests: list[str] = field(default_factory=list)  # export id of each status poll
    status_served: dict[str, int] = field(default_factory=dict)  # polls answered, per export
    # What the fake saw: the decoded form and Basic user of every token request, and the path,
    # Accept header and JSON body of every execute request.
    token_requests: list[dict[str, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    issued: dict[str, int] = field(default_factory=dict)  # token -> requests it served
    refused: int = 0  # execute requests answered 401

    def __post_init__(self) -> None:
        fake = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if path == TOKEN_PATH:
                    return self._token(body)
                if path in ("/api/v1/nql/execute", "/api/v2/nql/execute"):
                    return self._execute(path, body)
                if path == "/api/v1/nql/export":
                    return self._export(body)
                return self._send(404, {"message": "Not found"})

            def do_GET(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                prefix = "/api/v1/nql/status/"
                if path.startswith(prefix):
                    return self._status(urllib.parse.unquote(path.removeprefix(prefix)))
                return self._send(404, {"message": "Not found"})

            def _export(self, body: bytes) -> None:
                try:
                    request = json.loads(body or b"null")
                except ValueError:
                    request = None
                fake.exports.append(request)
                if not fake.authorized(self.headers.get("Authorization", "")):
                    fake.refused += 1
                    return self._send(401, None)
                if not isinstance(request, dict) or request.get("queryId") != fake.query_id:
                    return self._send(404, None)
                return self._send(200, {"exportId": f"exp-{len(fake.exports):04d}-9f2c"})

            def _status(self, export_id: str) -> None:
                fake.status_requests.append(export_id)
                fault = fake.status_faults.get(len(fake.status_requests))
                if fault is not None:
                    return self._send(fault.status, {"message": "fault", "code": 0}, fault.headers)
                if not fake.authorized(self.headers.get("Authorization", "")):
                    fake.refused += 1
                    return self._send(401, None)
                known = {f"exp-{n:04d}-9f2c": n for n in range(1, len(fake.exports) + 1)}
                if export_id not in known:
                    return self._send(404, None)
                polls = fake.status_served[export_id] = fake.status_served.get(export_id, 0) + 1
                if polls <= len(fake.export_pending):
                    return self._send(200, {"status": fake.export_pending[polls - 1]})
                outcome = fake.export_outcome
                if outcome == "ERROR":
                    return self._send(
                        200, {"status": "ERROR", "errorDescription": fake.export_error}
                    )
                if outcome not in ("COMPLETED", "PARTIAL"):
                    return self._send(200, {"status": outcome})
                request = fake.exports[known[export_id] - 1]
                url = fake.publish_results(export_id, request.get("compression"))
                answer = {"status": "COMPLETED", "resultsFileUrl": url}
                return self._send(206 if outcome == "PARTIAL" else 200, answer)

            def _token(self, body: bytes) -> None:
                form = dict(urllib.parse.parse_qsl(body.decode()))
                user, secret = _basic(self.headers.get("Authorization", ""))
                fake.token_requests.append(form | {"basic_user": user})
                if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                    return self._send(400, {"error": "invalid_request"})
                if (user, secret) != (fake.client_id, fake.client_secret):
                    return self._send(*fake.token_refusal)
                if form.get("grant_type") != "client_credentials":
                    return self._send(400, {"error": "unsupported_grant_type"})
                if form.get("scope") != "service:integration":
                    return self._send(400, {"error": "invalid_scope"})
                token = f"eyJ{len(fake.issued) + 1}.Qm9vdA.sIgNaTuRe"
                fake.issued[token] = 0
                return self._send(
                    200,
                    {
                        "token_type": "Bearer",
                        "expires_in": fake.expires_in,
                        "access_token": token,
                        "scope": "service:integration",
                    },
                )

            def _execute(self, path: str, body: bytes) -> None:
                accept = self.headers.get("Accept") or "application/json"
                try:
                    request = json.loads(body or b"null")
                except ValueError:
                    request = None
                fake.requests.append({"path": path, "accept": accept, "body": request})
                fault = fake.faults.get(len(fake.requests))
                if fault is not None:
                    return self._send(fault.status, {"message": "fault", "code": 0}, fault.headers)
                if not fake.authorized(self.headers.get("Authorization", "")):
                    fake.refused += 1
                    return self._send(401, None)
                if not isinstance(request, dict) or request.get("queryId") != fake.query_id:
                    return self._send(404, None)
                rows = fake.data[: fake.row_limit]
                if accept == "text/csv":
                    out = io.StringIO()
                    writer = csv.writer(out, lineterminator="\r\n")
                    writer.writerow(fake.headers)
                    writer.writerows(["" if v is None else v for v in row] for row in rows)
                    return self._send_bytes(200, out.getvalue().encode(), "text/csv")
                if accept != "application/json":
                    return self._send(406, None)
                answer: dict[str, Any] = {
                    "queryId": fake.query_id,
                    "executedQuery": "devices during past 1d | summarize ...",
                    "rows": len(rows) if fake.declared_rows is None else fake.declared_rows,
                }
                if path.startswith("/api/v2/"):
                    answer["executionDateTime"] = "2026-03-04T01:00:00"
                    answer["data"] = [dict(zip(fake.headers, row, strict=True)) for row in rows]
                else:
                    answer["executionDateTime"] = {"year": 2026, "month": 3, "day": 4}
                    answer["headers"] = fake.headers
                    answer["data"] = rows
                return self._send(200, answer)

        self.serve(Handler)

    @property
    def url(self) -> str:
        return f"{self.root}"

    def publish_results(self, export_id: str, asked: str | None) -> str:
        """The export's results file on the file host; its pre-signed URL."""
        if self.file_host is None:
            raise RuntimeError("FakeNexthink needs a file_host to complete exports")
        if self.results_file is not None:
            return self.file_host.publish(f"{export_id}.csv", self.results_file)
        compression = self.results_compression or ("gzip" if asked == "GZIP" else "none")
        content = compress(results_csv(self.headers, self.data), compression)
        extension = {"gzip": ".csv.gz", "zip": ".zip"}.get(compression, ".csv")
        return self.file_host.publish(f"{export_id}{extension}", content)

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    def authorized(self, header: str) -> bool:
        token = header.removeprefix("Bearer ")
        if not header.startswith("Bearer ") or token not in self.issued:
            return False
        if self.token_uses is not None and self.issued[token] >= self.token_uses:
            return False
        self.issued[token] += 1
        return True


def _basic(header: str) -> tuple[str | None, str | None]:
    if not header.startswith("Basic "):
        return None, None
    try:
        user, _, secret = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
    except ValueError:
        return None, None
    return user, secret
