"""A Nexthink NQL API stand-in on 127.0.0.1 for tests (the remote instance is outside).

It serves the parts of the real API our client relies on (docs.nexthink.com/api):

- POST /oauth2/default/v1/token: the client-credentials grant, the client id and secret as HTTP
  Basic auth, a form body; issues expiring bearer tokens. A refused client gets `token_refusal`
  (an Okta-style 401 `invalid_client`, as the instance's login host answers).
- POST /api/v1/nql/execute and /api/v2/nql/execute: the bearer token, a JSON body whose
  `queryId` must name the saved query (404 otherwise), `Accept: application/json` (v1: `headers`
  and `data` arrays; v2: `data` objects) or `text/csv`, 406 for anything else. At most
  `row_limit` rows are returned, without saying that more exist (as the real endpoint does).

A token stops working after `token_uses` requests (answered 401, as an expired one is); faults
are injected by execute request number (1-based).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.local_server import JsonHandler, LocalServer

TOKEN_PATH = "/oauth2/default/v1/token"


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


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
                return self._send(404, {"message": "Not found"})

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
