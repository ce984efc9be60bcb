"""A HappySignals API v2 stand-in on 127.0.0.1 for tests (the real instance is outside).

It serves GET /api/v2/<endpoint> with what HappySignals documents: a bearer token (the API key,
base64-encoded) in the Authorization header, the `{"meta": {"count", "page", "pages"}, "items"}`
envelope, and Django-style `<field>__gte` filters. The page parameter (`page`, 1-based) and the
fields of an item are this project's assumptions, like the client's defaults. Faults are
injected by request number; from `dead_after` requests on, it drops every connection unanswered,
as a server that died mid-pull.
"""

from __future__ import annotations

import base64
import math
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.local_server import JsonHandler, LocalServer


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@dataclass
class FakeHappySignals(LocalServer):
    items: list[dict[str, Any]]
    token: str = "hs-Api-T0ken-4f9c"
    endpoint: str = "responses"
    page_size: int = 4
    updated_field: str = "updated_at"
    faults: dict[int, Fault] = field(default_factory=dict)  # request number (1-based) -> fault
    dead_after: int | None = None
    envelope: bool = True  # False: answer a bare list, as some other API would
    requests: list[str] = field(default_factory=list)
    refused: int = 0

    def __post_init__(self) -> None:
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                if fake.dead_after is not None and len(fake.requests) > fake.dead_after:
                    self.close_connection = True
                    return  # no answer at all: the client sees the connection drop
                fault = fake.faults.get(len(fake.requests))
                if fault is not None:
                    return self._send(fault.status, {"detail": "fault"}, fault.headers)
                if self.headers.get("Authorization") != fake.authorization:
                    fake.refused += 1
                    return self._send(401, {"detail": "Invalid token."})
                url = urllib.parse.urlsplit(self.path)
                if url.path.rstrip("/") != f"/api/v2/{fake.endpoint}":
                    return self._send(404, {"detail": "Not found."})
                params = dict(urllib.parse.parse_qsl(url.query))
                return self._send(200, fake.page(params))

        self.serve(Handler)

    @property
    def url(self) -> str:
        """The base URL a user sets, up to and including /api/v2."""
        return f"{self.root}/api/v2"

    @property
    def authorization(self) -> str:
        return f"Bearer {base64.b64encode(self.token.encode()).decode()}"

    def page(self, params: dict[str, str]) -> Any:
        """One page of the items matching the `__gte` filter, in id order (1-based pages)."""
        rows = list(self.items)
        for name, value in params.items():
            if name.endswith("__gte"):
                column = name.removesuffix("__gte")
                rows = [r for r in rows if r.get(column) and _time(r[column]) >= _time(value)]
        rows.sort(key=lambda r: str(r.get("id")))
        number = int(params.get("page", "1"))
        pages = math.ceil(len(rows) / self.page_size)
        start = (number - 1) * self.page_size
        if not self.envelope:
            return rows
        return {
            "meta": {"count": len(rows), "page": number, "pages": pages},
            "items": rows[start : start + self.page_size],
        }
