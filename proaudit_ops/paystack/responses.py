"""Turning Paystack's answers (and its silences) into results or one-line PaystackErrors.

- 401: the key. 404 or `status: false` with "not found": PaystackNotFound. Other 4xx and
  `status: false` (bool or the string "false"): PaystackError with Paystack's `code`/`type`.
- 429/5xx reaching this point on a GET means retries ran out: the message counts the attempts.
- A POST that may have reached Paystack without a readable answer (5xx, read/write timeout, a
  dropped connection, a 2xx body that is not JSON or cannot be parsed) is PaystackRequestAmbiguous.
- Paystack's `message` is surfaced; the hint is `meta.nextStep`/`meta.next_step` when present.
- Every message is one line and passes through redact() with the secret key.
- Every object read (and a refund's embedded transaction) must carry the key's mode as its `domain`
  ("live" for sk_live_, "test" for sk_test_): a mismatch raises PaystackModeMismatch (refused).
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from proaudit_ops.errors import PaystackError, PaystackModeMismatch, PaystackNotFound, PaystackRequestAmbiguous
from proaudit_ops.paystack.retry import RETRYABLE_STATUS
from proaudit_ops.redact import redact

KEY_HINT = "check PAYSTACK_SECRET_KEY (no whitespace; sk_test_ vs sk_live_)"
NOT_JSON_HINT = "check that PAYSTACK_BASE_URL points at the Paystack API (a proxy may be answering)"
NOT_FOUND_HINT = "check the reference or id, and the key's mode: a live key cannot see test objects"
STATUS_PAGE_HINT = "Paystack is having trouble: check https://status.paystack.com and try again later"
SHAPE_HINT = "rerun with --debug and report it: the payload shape may have changed"
# Errors raised before a single byte of the request left this machine: a POST is safe to repeat.
NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)
_MAX_MESSAGE = 300

M = TypeVar("M", bound=BaseModel)


class ResponseReader:
    """Maps one client's answers and transport failures to results or errors."""

    def __init__(self, *, host: str, timeout_s: float, secrets: tuple[str, ...], mode: str | None = None) -> None:
        self._host = host
        self._timeout_s = timeout_s
        self._secrets = secrets
        self._mode = mode  # "live"/"test" from the key's prefix; None: nothing to compare with

    def clean(self, text: str) -> str:
        return redact(_one_line(text), self._secrets)

    def detail(self, exc: BaseException) -> str:
        return self.clean(str(exc) or type(exc).__name__)

    def read_transport_error(self, path: str, exc: httpx.HTTPError, attempts: int) -> PaystackError:
        tries = _attempts(attempts)
        if isinstance(exc, httpx.ConnectTimeout):
            message = (
                f"Paystack could not be reached at {self._host}: no connection within "
                f"{self._timeout_s:g}s (GET {path}, {tries})"
            )
        elif isinstance(exc, httpx.TimeoutException):
            message = f"Paystack did not answer GET {path} within the {self._timeout_s:g}s timeout ({tries})"
        else:
            message = f"Paystack could not be reached at {self._host} (GET {path}, {tries}): {self.detail(exc)}"
        hint = (
            "check network, DNS and proxy access to Paystack and PAYSTACK_BASE_URL; "
            "raise PAYSTACK_TIMEOUT_SECONDS if Paystack is only slow"
        )
        return PaystackError(self.clean(message), hint)

    def write_transport_error(self, path: str, exc: httpx.HTTPError, ambiguous_hint: str) -> PaystackError:
        if isinstance(exc, NOT_SENT):
            return PaystackError(
                self.clean(
                    f"Paystack could not be reached at {self._host}; POST {path} was not sent: {self.detail(exc)}"
                ),
                "check network, DNS and proxy access to Paystack; it is safe to try again",
            )
        if isinstance(exc, httpx.TimeoutException):
            reason = f"no answer within the {self._timeout_s:g}s timeout"
        else:
            reason = f"the connection failed mid-request: {self.detail(exc)}"
        return PaystackRequestAmbiguous(
            self.clean(
                f"outcome unknown: POST {path} may have reached Paystack ({reason}); check at Paystack before retrying"
            ),
            ambiguous_hint,
        )

    def envelope(
        self,
        response: httpx.Response,
        method: str,
        path: str,
        *,
        attempts: int,
        ambiguous_hint: str | None = None,
    ) -> dict[str, Any]:
        """The JSON envelope of a successful answer; every failure becomes a PaystackError."""
        code = response.status_code
        body = _json_object(response)
        fields = body if body is not None else {}
        message = self.clean(_text(fields.get("message")))
        next_step = _next_step(fields.get("meta"))
        said = f": {message}" if message else ""

        def fail(cls: type[PaystackError], text: str, hint: str | None) -> PaystackError:
            return cls(
                self.clean(text),
                None if hint is None else self.clean(hint),
                status_code=code,
                paystack_code=_text(fields.get("code")) or None,
                paystack_type=_text(fields.get("type")) or None,
            )

        if code == 401:
            raise fail(
                PaystackError,
                f"Paystack rejected the secret key (HTTP 401: {message or 'Invalid key'})",
                KEY_HINT,
            )
        if method == "POST" and ambiguous_hint is not None:
            if code >= 500:
                raise fail(
                    PaystackRequestAmbiguous,
                    f"outcome unknown: Paystack answered HTTP {code} to POST {path}{said}; "
                    "it may have been processed: check at Paystack before retrying",
                    ambiguous_hint,
                )
            if 200 <= code < 300 and body is None:
                raise fail(
                    PaystackRequestAmbiguous,
                    f"outcome unknown: Paystack answered HTTP {code} to POST {path} with a body "
                    "that is not JSON: check at Paystack before retrying",
                    ambiguous_hint,
                )
        if code == 429:
            outcome = f"gave up after {_attempts(attempts)}" if method == "GET" else "not processed"
            limited = fail(
                PaystackError,
                f"Paystack is rate-limiting this key (HTTP 429{said}); {method} {path} {outcome}",
                next_step or "wait a minute and try again; other tools may share this key's quota",
            )
            from proaudit_ops.paystack.retry import parse_retry_after

            limited.retry_after = parse_retry_after(response.headers.get("retry-after"))  # a POST's caller waits
            raise limited
        if code in RETRYABLE_STATUS or code >= 500:
            detail = said if body is not None else " with a body that is not JSON"
            raise fail(
                PaystackError,
                f"Paystack failed with HTTP {code}{detail} ({method} {path}, {_attempts(attempts)})",
                next_step or STATUS_PAGE_HINT,
            )
        if body is None:
            raise fail(
                PaystackError,
                f"Paystack answered HTTP {code} with a body that is not JSON ({method} {path})",
                NOT_JSON_HINT,
            )
        if 200 <= code < 300 and not _is_false(body.get("status")):
            return body
        if code == 404 or "not found" in message.lower():
            raise fail(
                PaystackNotFound,
                f"Paystack has no such object: {method} {path} (HTTP {code}{said})",
                next_step or NOT_FOUND_HINT,
            )
        raise fail(
            PaystackError,
            f"Paystack refused {method} {path} (HTTP {code}{said})",
            next_step or _default_hint(code),
        )

    def model(
        self,
        model: type[M],
        data: object,
        method: str,
        path: str,
        *,
        ambiguous_hint: str | None = None,
    ) -> M:
        self.check_domain(model.__name__.lower(), data, method, path)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            detail = self.clean(_validation_summary(exc))
            if method == "POST" and ambiguous_hint is not None:
                raise PaystackRequestAmbiguous(
                    f"outcome unknown: Paystack accepted POST {path} but its answer cannot be "
                    f"read ({detail}); check at Paystack before retrying",
                    ambiguous_hint,
                ) from exc
            raise PaystackError(
                f"Paystack answered {method} {path} with a payload proaudit cannot read: {detail}",
                SHAPE_HINT,
            ) from exc

    def check_domain(self, kind: str, data: object, method: str, path: str) -> None:
        """Refuse an object (or a refund's embedded transaction) from the other mode than the key's."""
        if self._mode is None or not isinstance(data, dict):
            return
        objects: list[tuple[str, dict[str, Any]]] = [(kind, data)]
        if isinstance(data.get("transaction"), dict):
            objects.append(("transaction", data["transaction"]))
        for what, obj in objects:
            domain = obj.get("domain")
            if not isinstance(domain, str) or not domain.strip() or domain.strip().lower() == self._mode:
                continue
            raise PaystackModeMismatch(
                self.clean(
                    f"Paystack answered {method} {path} with {what} {_label(obj)} in domain "
                    f"{domain.strip()!r}, but the key is a {self._mode} key (sk_{self._mode}_): refusing to act on it"
                ),
                self.clean(
                    "check PAYSTACK_SECRET_KEY and PAYSTACK_BASE_URL: something other than Paystack's "
                    f"{self._mode} API is answering (a proxy, a mirror or a mixed-up key); nothing was changed here"
                ),
            )


def _label(obj: dict[str, Any]) -> str:
    ident, reference = obj.get("id"), obj.get("reference") or obj.get("transaction_reference")
    parts = [str(part) for part in (ident, reference) if isinstance(part, str | int) and str(part).strip()]
    return " ".join(parts[:1] + [f"({part})" for part in parts[1:]]) if parts else "(no id)"


def truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _is_false(status: object) -> bool:
    return status is False or (isinstance(status, str) and status.strip().lower() == "false")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 3] + "..."


def _next_step(meta: object) -> str | None:
    if not isinstance(meta, dict):
        return None
    for key in ("nextStep", "next_step"):
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            return _one_line(value)
    return None


def _default_hint(code: int) -> str:
    if code in (400, 422):
        return "Paystack rejected the request's parameters: check them and try again"
    if code == 403:
        return "this key is not allowed to do that: check the integration's permissions"
    return "check the request; rerun with --debug for details"


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one (HTML error pages, truncation)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def data_object(body: dict[str, Any], method: str, path: str, ambiguous_hint: str | None = None) -> dict[str, Any]:
    data = body.get("data")
    if isinstance(data, dict):
        return data
    if method == "POST" and ambiguous_hint is not None:
        raise PaystackRequestAmbiguous(
            f"outcome unknown: Paystack accepted POST {path} but sent no data object; "
            "check at Paystack before retrying",
            ambiguous_hint,
        )
    raise PaystackError(
        f"Paystack answered {method} {path} without a data object",
        SHAPE_HINT,
    )


def data_items(body: dict[str, Any], path: str) -> list[Any]:
    data = body.get("data")
    if data is None:
        return []
    if isinstance(data, list):
        return data
    raise PaystackError(
        f"Paystack answered GET {path} with a data field that is not a list",
        SHAPE_HINT,
    )


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
