"""A small Microsoft Graph client for Intune endpoint analytics: read whole collections.

HTTP, retries and the OAuth token are `ingestion.http_api`'s; this module knows Graph. What
Microsoft documents (learn.microsoft.com/graph, pages named in docs/sources.md, "Microsoft
Intune pull"):

- An app registration authenticates with the OAuth 2.0 client-credentials grant: a form POST to
  `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token` with `grant_type`,
  `client_id`, `client_secret` and `scope=https://graph.microsoft.com/.default`, answered with
  `{"token_type": "Bearer", "expires_in", "access_token"}`. In a national cloud the token host
  and the `.default` scope's domain are that cloud's (graph/deployments, sdks/national-clouds).
- Every collection read here (`/v1.0/deviceManagement/managedDevices`,
  `/v1.0/deviceManagement/userExperienceAnalyticsDevicePerformance`,
  `/v1.0/deviceManagement/userExperienceAnalyticsAppHealthDevicePerformance` and the beta
  `/beta/deviceManagement/userExperienceAnalyticsBatteryHealthDevicePerformance`) accepts the
  application permission DeviceManagementManagedDevices.Read.All (the battery one also
  DeviceManagementConfiguration.Read.All); Graph for Intune needs an active Intune licence.
- A collection answers `{"value": [...], "@odata.nextLink": "<absolute URL>"}`; the next page
  is the whole next link, query included, until an answer carries none (graph/paging).
- A throttled request answers 429 with a suggested wait in `Retry-After` (graph/throttling).

The shared client retries 429 (waiting at least `Retry-After`), 5xx and network errors, renews
the token once on a 401, and stops at once on 401/403 naming the settings and the permission.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from ingestion.http_api import ApiClient, ApiError, Clock, OAuthToken, RetryPolicy, Sleep

__all__ = [
    "DEFAULT_GRAPH_URL",
    "PERMISSION",
    "IntuneClient",
    "IntuneError",
    "IntuneSettings",
    "ResourceUnavailable",
    "RetryPolicy",
    "settings_from_env",
]

ENV_TENANT_ID = "XMO_INTUNE_TENANT_ID"
ENV_CLIENT_ID = "XMO_INTUNE_CLIENT_ID"
ENV_CLIENT_SECRET = "XMO_INTUNE_CLIENT_SECRET"
ENV_GRAPH_URL = "XMO_INTUNE_GRAPH_URL"
ENV_TOKEN_URL = "XMO_INTUNE_TOKEN_URL"

DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
# The one application permission every collection read here accepts (least privileged).
PERMISSION = "DeviceManagementManagedDevices.Read.All"

# Graph's service root of each cloud -> its Microsoft Entra token host (graph/deployments).
# The `.default` scope names the cloud's Graph host; any other host (a proxy, a test server)
# is taken for the global service unless XMO_INTUNE_TOKEN_URL says otherwise.
TOKEN_HOSTS = {
    "graph.microsoft.com": "login.microsoftonline.com",
    "graph.microsoft.us": "login.microsoftonline.us",
    "dod-graph.microsoft.us": "login.microsoftonline.us",
    "microsoftgraph.chinacloudapi.cn": "login.chinacloudapi.cn",
}

# A tenant is named by its id (a GUID) or one of its domains (contoso.onmicrosoft.com).
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
_VERSION_SUFFIX = re.compile(r"/(v1\.0|beta)/?$")

# Every error of a pull is an ApiError (`.transient` says whether a later retry may help).
IntuneError = ApiError


class ResourceUnavailable(Exception):
    """An optional collection the tenant does not offer (HTTP 400, 403 or 404 on its first page)."""

    def __init__(self, path: str, status: int) -> None:
        super().__init__(f"{path}: HTTP {status}")
        self.path = path
        self.status = status


def graph_root(url: str) -> str:
    """The service root, without a trailing slash or API version (both are added per path)."""
    root = _VERSION_SUFFIX.sub("", url.strip().rstrip("/"))
    parts = urlsplit(root)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise IntuneError(f"{ENV_GRAPH_URL}: {url!r} is not a URL such as {DEFAULT_GRAPH_URL}")
    return root


def token_url_for(tenant_id: str, graph_url: str) -> str:
    host = urlsplit(graph_url).hostname or ""
    login = TOKEN_HOSTS.get(host.lower(), TOKEN_HOSTS["graph.microsoft.com"])
    return f"https://{login}/{tenant_id}/oauth2/v2.0/token"


def scope_for(graph_url: str) -> str:
    host = (urlsplit(graph_url).hostname or "").lower()
    return f"https://{host if host in TOKEN_HOSTS else 'graph.microsoft.com'}/.default"


@dataclass(frozen=True)
class IntuneSettings:
    """Which tenant, as which app registration. The secret never appears in repr."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    graph_url: str = DEFAULT_GRAPH_URL
    token_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IntuneSettings:
        env = os.environ if env is None else env
        missing = [
            name
            for name in (ENV_TENANT_ID, ENV_CLIENT_ID, ENV_CLIENT_SECRET)
            if not env.get(name, "").strip()
        ]
        if missing:
            raise IntuneError(f"set {', '.join(missing)} to pull device analytics from Intune")
        tenant_id = env[ENV_TENANT_ID].strip()
        if not _TENANT.match(tenant_id):
            raise IntuneError(
                f"{ENV_TENANT_ID}: {tenant_id!r} is not a tenant id (a GUID) or domain "
                "(e.g. contoso.onmicrosoft.com)"
            )
        graph_url = graph_root(env.get(ENV_GRAPH_URL) or DEFAULT_GRAPH_URL)
        return cls(
            tenant_id=tenant_id,
            client_id=env[ENV_CLIENT_ID].strip(),
            client_secret=env[ENV_CLIENT_SECRET],
            graph_url=graph_url,
            token_url=(env.get(ENV_TOKEN_URL) or "").strip() or token_url_for(tenant_id, graph_url),
        )


def settings_from_env(env: Mapping[str, str] | None = None) -> IntuneSettings:
    """The XMO_INTUNE_* settings; an error names every missing one."""
    return IntuneSettings.from_env(env)


class IntuneClient:
    """Reads Graph collections page by page; `api` is the shared HTTP client underneath."""

    def __init__(
        self,
        graph_url: str,
        token_url: str,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        root = graph_root(graph_url)
        registration = (
            f"{ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (app registration {client_id!r} in "
            f"tenant {tenant_id!r}, which needs the application permission {PERMISSION} "
            "with admin consent)"
        )
        session = requests.Session()
        token = OAuthToken(
            token_url,
            {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
                "scope": scope or scope_for(root),
            },
            settings=f"{registration}, {ENV_TENANT_ID} and {ENV_TOKEN_URL}",
            session=session,
            clock=clock,
        )
        self.api = ApiClient(
            root,
            token,
            credentials_hint=registration,
            retry=retry,
            timeout_s=timeout_s,
            sleep=sleep,
            session=session,
        )

    @classmethod
    def from_settings(cls, settings: IntuneSettings, **kwargs: Any) -> IntuneClient:
        return cls(
            settings.graph_url,
            settings.token_url,
            settings.tenant_id,
            settings.client_id,
            settings.client_secret,
            **kwargs,
        )

    @property
    def requests(self) -> int:
        """Graph requests sent so far, retries included (token requests are not)."""
        return self.api.requests

    def close(self) -> None:
        self.api.close()

    def pages(
        self, path: str, select: Iterable[str], *, optional: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a collection (`v1.0/deviceManagement/...`), its records as dicts.

        Only the `select`ed properties are asked for; each `@odata.nextLink` is followed as
        Graph gives it. With `optional`, a first page answered 400, 403 or 404 raises
        ResourceUnavailable (a beta resource the tenant does not offer) instead of an error.
        """
        url: str | None = path
        params: dict[str, str] | None = {"$select": ",".join(select)}
        first, seen = True, set()
        while url:
            allow = (400, 403, 404) if optional and first else ()
            response = self.api.get(url, params=params, allow=allow)
            if response.status_code >= 300:
                raise ResourceUnavailable(path, response.status_code)
            records, next_link = _page(path, response)
            yield records
            if next_link in seen or next_link == url:
                raise IntuneError(f"{path}: the next page link repeats itself; stopped")
            seen.add(url)
            url, params, first = next_link, None, False


def _page(path: str, response: requests.Response) -> tuple[list[dict[str, Any]], str | None]:
    try:
        body = response.json()
    except ValueError:
        raise IntuneError(f"{path}: the answer is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise IntuneError(f"{path}: unexpected answer (no `value` list)")
    records = body["value"]
    if not all(isinstance(record, dict) for record in records):
        raise IntuneError(f"{path}: unexpected answer (`value` holds something not an object)")
    next_link = body.get("@odata.nextLink")
    if next_link is not None and (not isinstance(next_link, str) or not next_link):
        raise IntuneError(f"{path}: unexpected answer (`@odata.nextLink` is not a URL)")
    return records, next_link
