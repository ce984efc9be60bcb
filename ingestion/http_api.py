"""The HTTP client every pulled source shares (ServiceNow now, HappySignals and Nexthink next).

One `requests.Session` with a base URL and timeouts, an auth object (`basic_auth`, `BearerToken`
or `OAuthToken`) and one retry policy built on tenacity: 429 waits at least `Retry-After`, 5xx
and network errors back off exponentially, and after a bounded number of attempts the error is
marked transient so the scheduler may try again later. 401 and 403 stop at once and name the
setting to check, because retrying a refused credential only locks the account; the one
exception is an OAuth token, which is renewed once when the server refuses it.

Nothing here logs or raises a header, a form body or a token: errors show the URL without its
query and a short reason.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import tenacity
from requests.auth import AuthBase, HTTPBasicAuth

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]
Clock = Callable[[], float]


class ApiError(Exception):
    """A request that cannot succeed; one line naming the URL (no query) and what to check.

    `transient` is true when the server was unreachable or overloaded after every retry, so
    trying again later may work; credentials, permissions and bad answers need a person.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per request, and the exponential backoff between them (1, 2, 4 … ≤ 60 s)."""

    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0


class _RetryableStatus(Exception):
    """A 429 or 5xx answer, raised inside an attempt so that tenacity retries it."""

    def __init__(self, url: str, response: requests.Response) -> None:
        super().__init__(f"{url}: HTTP {response.status_code}")
        self.url = url
        self.status = response.status_code
        self.retry_after = retry_after_seconds(response.headers.get("Retry-After"))


def basic_auth(user: str, password: str) -> HTTPBasicAuth:
    # requests encodes str credentials as Latin-1, which cannot carry every password; UTF-8
    # bytes are what the servers we pull from expect.
    return HTTPBasicAuth(user.encode(), password.encode())


class BearerToken(AuthBase):
    """`Authorization: Bearer <token>`, for APIs that hand out a long-lived token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerToken(***)"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class OAuthToken(AuthBase):
    """An OAuth 2.0 access token from a token endpoint, sent as a bearer token.

    The token is fetched on first use with the form-encoded `grant` and fetched again shortly
    before `expires_in` runs out, or when `renew()` says the server refused it. A refused token
    request is an `ApiError` naming `settings`; a 429 or 5xx from the endpoint is retried by
    the client's policy like any other request. The client authenticates in the form (its id
    and secret in `grant`, RFC 6749 §2.3.1) or, with `client_auth=(id, secret)`, with HTTP
    Basic auth on the token request, as servers such as Okta and Nexthink expect.
    """

    def __init__(
        self,
        token_url: str,
        grant: Mapping[str, str],
        *,
        settings: str,
        session: requests.Session | None = None,
        timeout_s: float = 30.0,
        clock: Clock = time.monotonic,
        client_auth: tuple[str, str] | None = None,
    ) -> None:
        self.token_url = token_url
        self.settings = settings
        self._grant = dict(grant)
        self._client_auth = client_auth
        self._session = session or requests.Session()
        self._timeout_s = timeout_s
        self._clock = clock
        self._token: str | None = None
        self._renew_at = math.inf

    def __repr__(self) -> str:
        return f"OAuthToken({self.token_url!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token is None or self._clock() >= self._renew_at:
            self._fetch()
        assert self._token is not None
        return BearerToken(self._token)(request)

    def renew(self) -> None:
        """Forget the token: the server refused it, so the next request fetches a new one."""
        self._token = None

    def _fetch(self) -> None:
        response = self._session.post(
            self.token_url,
            data=self._grant,
            headers={"Accept": "application/json"},
            auth=basic_auth(*self._client_auth) if self._client_auth else None,
            timeout=self._timeout_s,
        )
        status = response.status_code
        if status == 429 or status >= 500:
            raise _RetryableStatus(self.token_url, response)
        if status != 200:
            reason = self._redacted(_oauth_error(response))
            raise ApiError(
                f"{self.token_url}: token request refused (HTTP {status}{reason}), "
                f"check {self.settings}"
            )
        self._token, lifetime_s = self._parse(response)
        # Renew a little early (a tenth of the lifetime, at most a minute: a 30-minute token is
        # renewed after 29) so that a request sent just before expiry does not arrive dead.
        margin = min(60.0, lifetime_s / 10) if lifetime_s else 0.0
        self._renew_at = self._clock() + lifetime_s - margin if lifetime_s else math.inf

    def _parse(self, response: requests.Response) -> tuple[str, float | None]:
        try:
            body = response.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ApiError(f"{self.token_url}: no access_token in the answer (is the URL right?)")
        token_type = str(body.get("token_type") or "Bearer")
        if token_type.lower() != "bearer":
            raise ApiError(f"{self.token_url}: token type {token_type!r} is not a bearer token")
        return token, _number(body.get("expires_in"))

    def _redacted(self, text: str) -> str:
        # Servers have been seen echoing a request field in the error; never show a secret.
        secrets = [self._grant.get(name) for name in ("client_secret", "password")]
        if self._client_auth:
            secrets.append(self._client_auth[1])
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


class ApiClient:
    """GET and POST (JSON) against one base URL, with auth, timeouts and the retry policy.

    `credentials_hint` names the settings to check when the server answers 401 or 403, e.g.
    "XMO_SERVICENOW_USER and XMO_SERVICENOW_PASSWORD (user 'xmo.integration')". Statuses other
    than 2xx and those listed in `allow` raise `ApiError`. Use it for idempotent requests only:
    every request may be sent more than once.
    """

    def __init__(
        self,
        base_url: str,
        auth: AuthBase | None,
        *,
        credentials_hint: str,
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 10.0,
        sleep: Sleep = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.auth = auth
        self.credentials_hint = credentials_hint
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers["Accept"] = "application/json"
        self._timeout = (connect_timeout_s, timeout_s)
        self._sleep = sleep
        self.requests = 0

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def get(
        self, url: str, *, params: Mapping[str, str] | None = None, allow: Iterable[int] = ()
    ) -> requests.Response:
        return self.request("GET", url, params=params, allow=allow)

    def post_json(
        self,
        url: str,
        body: Any,
        *,
        params: Mapping[str, str] | None = None,
        allow: Iterable[int] = (),
    ) -> requests.Response:
        return self.request("POST", url, json=body, params=params, allow=allow)

    def request(
        self, method: str, url: str, *, allow: Iterable[int] = (), **kwargs: Any
    ) -> requests.Response:
        """Send with retries; return a 2xx answer or one whose status is in `allow`."""
        absolute = self._absolute(url)
        shown = _without_query(absolute)
        try:
            response = self._retrying()(self._send, method, absolute, shown, **kwargs)
        except _RetryableStatus as error:
            raise ApiError(
                f"{error.url}: HTTP {error.status} after {self.retry.max_attempts} attempts",
                transient=True,
            ) from None
        except requests.exceptions.SSLError:
            raise ApiError(
                f"{shown}: TLS handshake failed (check the URL and certificates)"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as error:
            where = _without_query(getattr(error.request, "url", None) or absolute)
            reason = _network_reason(error)
            raise ApiError(f"{where}: unreachable ({reason})", transient=True) from None
        except requests.RequestException as error:
            raise ApiError(f"{shown}: request failed ({type(error).__name__})") from None
        status = response.status_code
        allowed = set(allow)
        # A caller may list 403 (or 401) in `allow` for a resource it can do without.
        if status in (401, 403) and status not in allowed:
            refused = "access denied"
            if status == 401:
                renewed = isinstance(self.auth, OAuthToken)
                refused = "a new access token was refused too" if renewed else "credentials refused"
            raise ApiError(f"{shown}: HTTP {status} ({refused}), check {self.credentials_hint}")
        if status < 300 or status in allowed:
            return response
        raise ApiError(f"{shown}: HTTP {status}: {_snippet(response.text) or response.reason}")

    def _send(self, method: str, url: str, shown: str, **kwargs: Any) -> requests.Response:
        """One attempt; a token the server refuses is renewed and the request sent once more."""
        response = self._send_once(method, url, **kwargs)
        if response.status_code == 401 and isinstance(self.auth, OAuthToken):
            log.info("%s: HTTP 401, getting a new access token and asking once more", shown)
            self.auth.renew()
            response = self._send_once(method, url, **kwargs)
        if response.status_code == 429 or response.status_code >= 500:
            raise _RetryableStatus(shown, response)
        return response

    def _send_once(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.requests += 1
        return self.session.request(method, url, auth=self.auth, timeout=self._timeout, **kwargs)

    def _retrying(self) -> tenacity.Retrying:
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(_is_retryable),
            stop=tenacity.stop_after_attempt(self.retry.max_attempts),
            wait=_backoff_or_retry_after(self.retry),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )

    def _absolute(self, url: str) -> str:
        absolute = urljoin(self.base_url, url.lstrip("/") if "://" not in url else url)
        # A next link comes from the server's answer; credentials go to the configured host only.
        if _origin(absolute) != _origin(self.base_url):
            raise ApiError(f"{_without_query(absolute)}: not on {_origin(self.base_url)}")
        return absolute


def _is_retryable(error: BaseException) -> bool:
    if isinstance(error, requests.exceptions.SSLError):
        return False  # a certificate problem does not go away in a minute
    return isinstance(error, _RetryableStatus | requests.ConnectionError | requests.Timeout)


def _backoff_or_retry_after(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    backoff = tenacity.wait_exponential(multiplier=policy.base_delay_s, max=policy.max_delay_s)

    def wait(state: tenacity.RetryCallState) -> float:
        delay = backoff(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _RetryableStatus) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return delay

    return wait


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, requests.RequestException):
        where = _without_query(getattr(error.request, "url", None) or "")
        problem = f"{where} unreachable ({_network_reason(error)})"
    else:
        problem = str(error)
    delay = state.next_action.sleep if state.next_action else 0.0
    log.warning("%s; retry %s in %.1fs", problem, state.attempt_number, delay)


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: either a number of seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _number(value: object) -> float | None:
    try:
        return float(value) if value is not None else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _oauth_error(response: requests.Response) -> str:
    """`: invalid_client (…)` from an RFC 6749 error body, or nothing."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict) or not body.get("error"):
        return ""
    description = body.get("error_description")
    detail = f" ({_snippet(str(description), 80)})" if description else ""
    return f": {_snippet(str(body['error']), 40)}{detail}"


def _network_reason(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "timed out"
    cause = error.args[0] if error.args else error
    cause = getattr(cause, "reason", cause)  # urllib3 wraps the socket error in MaxRetryError
    return _snippet(str(cause).split(": ", 1)[-1], 120)


def _snippet(text: str, limit: int = 200) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
