"""A ServiceNow Table API stand-in on 127.0.0.1 for tests (the remote instance is outside).

It serves /api/now/table/<table> with the parts of the real API's shape our client relies on:
basic auth, `sysparm_query` with a `sys_updated_on>=` filter and ORDERBY, `sysparm_limit` and
`sysparm_offset` paging, `X-Total-Count`, optional `Link: rel="next"`, access rules applied
after the limit (short pages), the current state of each record as of `now`, and faults
injected by request number (counting Table API requests only).

With a `client_id` it is an OAuth 2.0 instance instead: POST /oauth_token.do (form-encoded,
password or client-credentials grant) issues bearer tokens, and the Table API accepts only
those, never Basic auth, so a test cannot pass by falling back to it. A token stops working
after `token_uses` requests (the instance answers 401 for it, as for an expired token).
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.local_server import JsonHandler, LocalServer


def _plain(value: Any) -> Any:
    return value.get("value") if isinstance(value, dict) else value


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeServiceNow(LocalServer):
    # table -> every version of every record (the fake serves the latest version <= now)
    versions: dict[str, list[dict[str, Any]]]
    user: str = "xmo-integration"
    password: str = "s3cret-Pa55"
    now: str = "9999-12-31 23:59:59"
    link_header: bool = True
    hidden_sys_ids: set[str] = field(default_factory=set)
    faults: dict[int, Fault] = field(default_factory=dict)  # request number (1-based) -> fault
    requests: list[str] = field(default_factory=list)
    # OAuth 2.0 (off while client_id is None)
    client_id: str | None = None
    client_secret: str = "cl1ent-S3cret"
    client_credentials_enabled: bool = True  # the instance's system property
    expires_in: int = 1800
    token_uses: int | None = None  # requests a token serves before it is refused
    # ServiceNow answers a refused token request with 401 and this body (not RFC 6749's 400).
    token_refusal: tuple[int, dict[str, str]] = (
        401,
        {"error": "server_error", "error_description": "access_denied"},
    )
    token_requests: list[dict[str, str]] = field(default_factory=list)
    issued: dict[str, int] = field(default_factory=dict)  # token -> requests it served
    refused: int = 0  # Table API requests answered 401

    def __post_init__(self) -> None:
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                fault = fake.faults.get(len(fake.requests))
                if fault is not None:
                    return self._send(fault.status, {"error": {"message": "fault"}}, fault.headers)
                if not fake.authorized(self.headers.get("Authorization", "")):
                    fake.refused += 1
                    return self._send(401, {"error": {"message": "User Not Authenticated"}})
                url = urllib.parse.urlsplit(self.path)
                table = url.path.rsplit("/", 1)[-1]
                params = dict(urllib.parse.parse_qsl(url.query))
                rows = fake.current(table, params.get("sysparm_query", ""))
                limit = int(params.get("sysparm_limit", "10000"))
                offset = int(params.get("sysparm_offset", "0"))
                page = [
                    r
                    for r in rows[offset : offset + limit]
                    if _plain(r.get("sys_id")) not in fake.hidden_sys_ids
                ]
                headers = {"X-Total-Count": str(len(rows))}
                if fake.link_header and offset + limit < len(rows):
                    query = urllib.parse.urlencode({**params, "sysparm_offset": offset + limit})
                    base = f"http://{self.headers['Host']}{url.path}"
                    headers["Link"] = f'<{base}?{query}>;rel="next"'
                return self._send(200, {"result": page}, headers)

            def do_POST(self) -> None:
                if urllib.parse.urlsplit(self.path).path != "/oauth_token.do":
                    return self._send(404, {"error": {"message": "Not found"}})
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                form = dict(urllib.parse.parse_qsl(body.decode()))
                fake.token_requests.append(form)
                if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                    return self._send(400, {"error": "invalid_request"})
                return self._send(*fake.token_answer(form))

        self.serve(Handler)

    @property
    def url(self) -> str:
        return f"{self.root}"

    def authorized(self, header: str) -> bool:
        if self.client_id is None:
            expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return header == f"Basic {expected}"
        token = header.removeprefix("Bearer ")
        if not header.startswith("Bearer ") or token not in self.issued:
            return False
        if self.token_uses is not None and self.issued[token] >= self.token_uses:
            return False
        self.issued[token] += 1
        return True

    def token_answer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """What /oauth_token.do answers (the shape of ServiceNow's OAuth API response)."""
        client_ok = (form.get("client_id"), form.get("client_secret")) == (
            self.client_id,
            self.client_secret,
        )
        grant = form.get("grant_type")
        if grant == "password":
            grant_ok = (form.get("username"), form.get("password")) == (self.user, self.password)
        elif grant == "client_credentials":
            grant_ok = self.client_credentials_enabled and "username" not in form
        else:
            return 400, {"error": "unsupported_grant_type"}
        if self.client_id is None or not (client_ok and grant_ok):
            return self.token_refusal
        token = f"tok{len(self.issued) + 1}-Zq8wX3vRk2"
        self.issued[token] = 0
        return 200, {
            "access_token": token,
            "refresh_token": f"refresh-{token}",
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }

    def current(self, table: str, query: str) -> list[dict[str, Any]]:
        """State as of `now`, filtered by `sys_updated_on>=`, ordered by sys_updated_on, sys_id."""
        since = ""
        for clause in query.split("^"):
            if clause.startswith("sys_updated_on>="):
                since = clause.split(">=", 1)[1]
        latest: dict[str, dict[str, Any]] = {}
        for record in self.versions.get(table, []):
            stamp = _plain(record.get("sys_updated_on")) or ""
            if stamp > self.now:
                continue
            key = str(_plain(record.get("sys_id")))
            if key not in latest or stamp >= (_plain(latest[key].get("sys_updated_on")) or ""):
                latest[key] = record
        rows = [r for r in latest.values() if (_plain(r.get("sys_updated_on")) or "") >= since]
        return sorted(
            rows, key=lambda r: (_plain(r.get("sys_updated_on")), _plain(r.get("sys_id")))
        )
