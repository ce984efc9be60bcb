"""A Microsoft Graph tenant stand-in on 127.0.0.1 for the Intune pull's tests.

It serves what the pull relies on, as Microsoft documents it (learn.microsoft.com):

- POST /<tenant>/oauth2/v2.0/token (Microsoft identity platform, client-credentials flow): a
  form body with grant_type=client_credentials, client_id, client_secret and
  scope=https://graph.microsoft.com/.default; answers {"token_type": "Bearer", "expires_in",
  "ext_expires_in", "access_token"}. An unknown tenant is 400 (AADSTS90002), a wrong secret
  401 invalid_client (AADSTS7000215), another scope 400 invalid_scope.
- GET /v1.0/deviceManagement/managedDevices, .../userExperienceAnalyticsDevicePerformance and
  .../userExperienceAnalyticsAppHealthDevicePerformance, and GET /beta/deviceManagement/
  userExperienceAnalyticsBatteryHealthDevicePerformance: a bearer token; `$select` honoured
  (only the selected properties come back; a property the resource does not have is 400, as
  Graph answers, so the client's property names are checked against the documented ones);
  `page_size` records a page, the next page as an absolute `@odata.nextLink` that repeats the
  original query and adds `$skiptoken`. The battery resource can be absent (`battery=None`:
  answered `battery_status`, 404 by default).

A token expires `expires_in` seconds after it was issued on the fake's `clock`, or stops
working after `token_uses` requests (answered 401 with Graph's error body, as an expired one
is). Faults (429 with Retry-After, 503, ...) are injected by Graph request number (1-based).
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.local_server import JsonHandler, LocalServer

GRAPH_SCOPE = "https://graph.microsoft.com/.default"

MANAGED_DEVICES = "/v1.0/deviceManagement/managedDevices"
DEVICE_PERFORMANCE = "/v1.0/deviceManagement/userExperienceAnalyticsDevicePerformance"
APP_HEALTH = "/v1.0/deviceManagement/userExperienceAnalyticsAppHealthDevicePerformance"
BATTERY_HEALTH = "/beta/deviceManagement/userExperienceAnalyticsBatteryHealthDevicePerformance"

# Each resource's properties as its Graph reference page lists them (v1.0; battery: beta).
PROPERTIES = {
    MANAGED_DEVICES: set(
        """id userId deviceName managedDeviceOwnerType enrolledDateTime lastSyncDateTime
        operatingSystem complianceState jailBroken managementAgent osVersion easActivated
        easDeviceId azureADRegistered deviceEnrollmentType emailAddress azureADDeviceId
        deviceRegistrationState deviceCategoryDisplayName isSupervised isEncrypted
        userPrincipalName model manufacturer imei serialNumber phoneNumber userDisplayName
        wiFiMacAddress totalStorageSpaceInBytes freeStorageSpaceInBytes managedDeviceName""".split()
    ),
    DEVICE_PERFORMANCE: set(
        """id deviceName model manufacturer diskType operatingSystemVersion bootScore
        coreBootTimeInMs groupPolicyBootTimeInMs healthStatus loginScore coreLoginTimeInMs
        groupPolicyLoginTimeInMs deviceCount responsiveDesktopTimeInMs blueScreenCount
        restartCount averageBlueScreens averageRestarts startupPerformanceScore
        modelStartupPerformanceScore""".split()
    ),
    APP_HEALTH: set(
        """id deviceModel deviceManufacturer appCrashCount crashedAppCount appHangCount
        processedDateTime meanTimeToFailureInMinutes deviceAppHealthScore
        deviceAppHealthStatus healthStatus deviceId deviceDisplayName""".split()
    ),
    BATTERY_HEALTH: set(
        """id deviceId deviceName model manufacturer deviceModelName deviceManufacturerName
        maxCapacityPercentage estimatedRuntimeInMinutes batteryAgeInDays fullBatteryDrainCount
        deviceBatteryCount deviceBatteriesDetails deviceBatteryTags deviceBatteryHealthScore
        healthStatus""".split()
    ),
}
ODATA_TYPES = {
    MANAGED_DEVICES: "managedDevice",
    DEVICE_PERFORMANCE: "userExperienceAnalyticsDevicePerformance",
    APP_HEALTH: "userExperienceAnalyticsAppHealthDevicePerformance",
    BATTERY_HEALTH: "userExperienceAnalyticsBatteryHealthDevicePerformance",
}


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class FakeClock:
    """A monotonic clock for tokens, shared by the fake and the client; `step` seconds pass
    after every Graph request."""

    def __init__(self, start: float = 1000.0, step: float = 0.0) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        return self.now


def graph_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "innerError": {"request-id": "0"}}}


@dataclass
class FakeGraph(LocalServer):
    managed_devices: list[dict[str, Any]]
    device_performance: list[dict[str, Any]]
    app_health: list[dict[str, Any]]
    battery: list[dict[str, Any]] | None = None  # None: the tenant has no battery resource
    battery_status: int = 404  # what the beta resource answers when absent
    tenant_id: str = "6f0c5a52-3c1d-4e2b-9a57-2f4c1b7d8e90"
    client_id: str = "0b6e3f4a-8d21-4c7e-b5a9-1e2f3d4c5b6a"
    client_secret: str = "Gr4ph~Cl1ent.S3cret_value-Xq"
    page_size: int = 2
    expires_in: int = 3599
    token_uses: int | None = None  # requests a token serves before it is refused
    forbidden: bool = False  # the app lacks the permission: Graph answers 403
    clock: FakeClock = field(default_factory=FakeClock)
    faults: dict[int, Fault] = field(default_factory=dict)  # Graph request number -> fault
    next_link_root: str | None = None  # the host next links point to (default: this fake)
    # What the fake saw: each token request's form (the secret replaced by whether it was
    # right) and each Graph request's path, $select and $skiptoken.
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    issued: dict[str, dict[str, float]] = field(default_factory=dict)  # token -> uses, expiry
    refused: int = 0  # Graph requests answered 401

    def __post_init__(self) -> None:
        fake = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if parts[1:] == ["oauth2", "v2.0", "token"]:
                    return self._token(parts[0], body)
                return self._send(404, graph_error("NotFound", "no such endpoint"))

            def _token(self, tenant: str, body: bytes) -> None:
                form = dict(urllib.parse.parse_qsl(body.decode()))
                secret = form.pop("client_secret", None)
                fake.token_requests.append(
                    form | {"tenant": tenant, "secret_ok": secret == fake.client_secret}
                )
                if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                    return self._send(400, {"error": "invalid_request"})
                if tenant != fake.tenant_id:
                    return self._send(
                        400,
                        {
                            "error": "invalid_request",
                            "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
                        },
                    )
                if form.get("grant_type") != "client_credentials":
                    return self._send(400, {"error": "unsupported_grant_type"})
                if form.get("client_id") != fake.client_id or secret != fake.client_secret:
                    return self._send(
                        401,
                        {
                            "error": "invalid_client",
                            "error_description": (
                                "AADSTS7000215: Invalid client secret provided. Ensure the "
                                "secret being sent in the request is the client secret value, "
                                f"not the client secret ID, for a secret added to app "
                                f"'{form.get('client_id')}'."
                            ),
                            "error_codes": [7000215],
                        },
                    )
                if form.get("scope") != GRAPH_SCOPE:
                    return self._send(
                        400,
                        {
                            "error": "invalid_scope",
                            "error_description": "AADSTS1002012: The provided value for scope "
                            f"{form.get('scope')} is not valid.",
                        },
                    )
                token = "eyJ0eXAiOiJKV1Qi." + base64.urlsafe_b64encode(
                    f"token-{len(fake.issued) + 1}".encode()
                ).decode().rstrip("=")
                fake.issued[token] = {"uses": 0, "expires": fake.clock() + fake.expires_in}
                return self._send(
                    200,
                    {
                        "token_type": "Bearer",
                        "expires_in": fake.expires_in,
                        "ext_expires_in": fake.expires_in,
                        "access_token": token,
                    },
                )

            def _send_bytes(self, *args: Any, **kwargs: Any) -> None:
                if self.command == "GET":  # time passes between requests (before the client
                    fake.clock.now += fake.clock.step  # can read the answer: no race)
                super()._send_bytes(*args, **kwargs)

            def do_GET(self) -> None:
                split = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(split.query))
                select = query.get("$select")
                fake.requests.append(
                    {
                        "path": split.path,
                        "select": select.split(",") if select is not None else None,
                        "skiptoken": query.get("$skiptoken"),
                    }
                )
                fault = fake.faults.get(len(fake.requests))
                if fault is not None:
                    error = graph_error("TooManyRequests", "fault")
                    return self._send(fault.status, error, fault.headers)
                if not fake.authorized(self.headers.get("Authorization", "")):
                    fake.refused += 1
                    return self._send(
                        401,
                        graph_error(
                            "InvalidAuthenticationToken",
                            "Access token has expired or is not yet valid.",
                        ),
                    )
                if fake.forbidden:
                    return self._send(
                        403, graph_error("Forbidden", "Application is not authorized.")
                    )
                records = fake.collection(split.path)
                if records is None:
                    status = fake.battery_status if split.path == BATTERY_HEALTH else 404
                    return self._send(
                        status,
                        graph_error(
                            "BadRequest" if status == 400 else "ResourceNotFound",
                            f"Resource not found for the segment '{split.path.split('/')[-1]}'.",
                        ),
                    )
                known = PROPERTIES[split.path]
                fields = select.split(",") if select else sorted(known)
                unknown = [name for name in fields if name not in known]
                if unknown:
                    return self._send(
                        400,
                        graph_error(
                            "BadRequest",
                            f"Could not find a property named '{unknown[0]}' on type "
                            f"'microsoft.graph.{ODATA_TYPES[split.path]}'.",
                        ),
                    )
                offset = int(query.get("$skiptoken") or 0)
                page = records[offset : offset + fake.page_size]
                answer: dict[str, Any] = {
                    "@odata.context": f"{fake.root}/v1.0/$metadata#deviceManagement/x",
                    "value": [{k: r[k] for k in fields if k in r} for r in page],
                }
                if offset + fake.page_size < len(records):
                    next_query = {k: v for k, v in query.items() if k != "$skiptoken"}
                    next_query["$skiptoken"] = str(offset + fake.page_size)
                    root = fake.next_link_root or fake.root
                    answer["@odata.nextLink"] = (
                        f"{root}{split.path}?{urllib.parse.urlencode(next_query, safe='$,')}"
                    )
                return self._send(200, answer)

        self.serve(Handler)

    @property
    def graph_url(self) -> str:
        return self.root

    @property
    def token_url(self) -> str:
        return f"{self.root}/{self.tenant_id}/oauth2/v2.0/token"

    def collection(self, path: str) -> list[dict[str, Any]] | None:
        return {
            MANAGED_DEVICES: self.managed_devices,
            DEVICE_PERFORMANCE: self.device_performance,
            APP_HEALTH: self.app_health,
            BATTERY_HEALTH: self.battery,
        }.get(path)

    def authorized(self, header: str) -> bool:
        token = header.removeprefix("Bearer ")
        grant = self.issued.get(token)
        if not header.startswith("Bearer ") or grant is None:
            return False
        if self.clock() >= grant["expires"]:
            return False
        if self.token_uses is not None and grant["uses"] >= self.token_uses:
            return False
        grant["uses"] += 1
        return True

    def graph_requests(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]
