"""The Paystack API client: httpx for the wire, tenacity for read retries, pydantic for payloads.

Rules that matter during an incident:
- reads (GET) are retried on transport failures, 429 and 5xx (see retry.py); writes (POST) never
  are. A POST that may have reached Paystack without an answer raises PaystackRequestAmbiguous
  (exit code 5): the caller must look the outcome up before trying again.
- every failure is a PaystackError (or a subclass) with a one-line message and a next step;
  Paystack's own `message` and `meta.nextStep` are surfaced.
- the secret key never appears in an exception message, a log line or repr(client).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState

from proaudit_ops import __version__
from proaudit_ops.errors import (
    ConfigError,
    PaystackError,
    PaystackNotFound,
    PaystackRequestAmbiguous,
    UsageError,
)
from proaudit_ops.paystack.models import (
    InitializedTransaction,
    Refund,
    Transaction,
    TransactionPage,
    cursor_or_none,
    meta_int,
)
from proaudit_ops.paystack.retry import RETRYABLE_STATUS, read_retrying
from proaudit_ops.redact import mask_key, redact
from proaudit_ops.timeutil import iso

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.paystack.co"
KEY_HINT = "check PAYSTACK_SECRET_KEY (no whitespace; sk_test_ vs sk_live_)"
NOT_JSON_HINT = "check that PAYSTACK_BASE_URL points at the Paystack API (a proxy may be answering)"
NOT_FOUND_HINT = "check the reference or id, and the key's mode: a live key cannot see test objects"
STATUS_PAGE_HINT = (
    "Paystack is having trouble: check https://status.paystack.com and try again later"
)
# Errors raised before a single byte of the request left this machine: a POST is safe to repeat.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)
_MAX_MESSAGE = 300

M = TypeVar("M", bound=BaseModel)


class PaystackClient:
    """A synchronous Paystack client. Use it as a context manager, or call close()."""

    def __init__(
        self,
        secret_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 30.0,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retry_wait_s: float = 30.0,
    ) -> None:
        _check_secret_key(secret_key)
        if not timeout_s > 0:
            raise ConfigError(
                f"the Paystack timeout must be positive (got {timeout_s!r})",
                hint="set PAYSTACK_TIMEOUT_SECONDS to a number of seconds, e.g. 30",
            )
        self._secrets = (secret_key,)
        self._key_label = mask_key(secret_key)
        self._base_url = base_url.rstrip("/")
        self._host = httpx.URL(self._base_url).host or self._base_url
        self._timeout_s = float(timeout_s)
        self._max_retries = max(0, int(max_retries))
        self._sleep = sleep
        self._max_retry_wait_s = float(max_retry_wait_s)
        self._http = httpx.Client(
            base_url=self._base_url,
            timeout=httpx.Timeout(self._timeout_s),
            transport=transport,
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {secret_key}",
                "User-Agent": f"proaudit/{__version__}",
                "Accept": "application/json",
            },
        )

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PaystackClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"PaystackClient(base_url={self._base_url!r}, key={self._key_label}, "
            f"timeout_s={self._timeout_s:g}, max_retries={self._max_retries})"
        )

    @property
    def mode(self) -> str | None:
        """ "live", "test", or None when the key has neither prefix (e.g. the sandbox's)."""
        for mode in ("live", "test"):
            if self._key_label.startswith(f"sk_{mode}_"):
                return mode
        return None

    # -- transactions ------------------------------------------------------------------------
    def verify_transaction(self, reference: str) -> Transaction:
        """GET /transaction/verify/:reference. PaystackNotFound when Paystack does not know it."""
        ref = _required_text(reference, "transaction reference")
        path = f"/transaction/verify/{quote(ref, safe='')}"
        return self._model(Transaction, _object(self._get(path), "GET", path), "GET", path)

    def fetch_transaction(self, transaction_id: int) -> Transaction:
        """GET /transaction/:id (Paystack's numeric id)."""
        path = f"/transaction/{_positive_int(transaction_id, 'transaction id')}"
        return self._model(Transaction, _object(self._get(path), "GET", path), "GET", path)

    def list_transactions_page(
        self,
        *,
        status: str | None = None,
        from_: datetime | None = None,
        to: datetime | None = None,
        per_page: int = 100,
        page: int | None = None,
        cursor: str | None = None,
        use_cursor: bool = False,
    ) -> TransactionPage:
        """One page of GET /transaction. A `cursor` implies `use_cursor`."""
        params: dict[str, str] = {"perPage": str(_positive_int(per_page, "per_page"))}
        if page is not None:
            params["page"] = str(_positive_int(page, "page"))
        if use_cursor or cursor is not None:
            params["use_cursor"] = "true"
        if cursor is not None:
            params["next"] = cursor
        if status is not None:
            params["status"] = status
        if from_ is not None:
            params["from"] = _iso(from_)
        if to is not None:
            params["to"] = _iso(to)
        path = "/transaction"
        body = self._get(path, params)
        items = [self._model(Transaction, item, "GET", path) for item in _items(body, path)]
        meta = body.get("meta")
        meta = meta if isinstance(meta, dict) else {}
        return TransactionPage(
            items=items,
            next_cursor=cursor_or_none(meta.get("next")),
            page=meta_int(meta.get("page")),
            page_count=meta_int(meta.get("pageCount")),
            total=meta_int(meta.get("total")),
            per_page=meta_int(meta.get("perPage")),
        )

    def iter_transactions(
        self,
        *,
        status: str | None = None,
        from_: datetime | None = None,
        to: datetime | None = None,
        per_page: int = 100,
        use_cursor: bool = True,
    ) -> Iterator[Transaction]:
        """Every transaction matching the filters, page after page.

        Follows cursor meta (`next`) or offset meta (`page`/`pageCount`), whichever Paystack
        answers with; stops at a missing/null/"null"/"" cursor, the last page, or an empty page.
        """
        cursor: str | None = None
        page: int | None = None if use_cursor else 1
        seen_cursors: set[str] = set()
        previous_first: str | None = None
        while True:
            result = self.list_transactions_page(
                status=status,
                from_=from_,
                to=to,
                per_page=per_page,
                page=page,
                cursor=cursor,
                use_cursor=use_cursor,
            )
            if not result.items:
                return
            first = _identity(result.items[0].id, result.items[0].reference)
            if first == previous_first:
                raise _repeated_page_error("/transaction")
            previous_first = first
            yield from result.items
            if use_cursor and result.next_cursor is not None:
                if result.next_cursor in seen_cursors:
                    raise _repeated_page_error("/transaction")
                seen_cursors.add(result.next_cursor)
                cursor = result.next_cursor
                continue
            # Offset meta (or a cursor request answered with offset meta): go by page numbers.
            current = page or result.page or 1
            next_page = _next_offset_page(current, result.page_count, len(result.items), per_page)
            if next_page is None:
                return
            use_cursor, cursor, page = False, None, next_page

    # -- refunds -----------------------------------------------------------------------------
    def list_refunds(self, *, transaction: int | None = None, per_page: int = 100) -> list[Refund]:
        """GET /refund (all offset pages), optionally only the refunds of one transaction id."""
        params: dict[str, str] = {"perPage": str(_positive_int(per_page, "per_page"))}
        if transaction is not None:
            params["transaction"] = str(_positive_int(transaction, "transaction id"))
        path = "/refund"
        refunds: list[Refund] = []
        page = 1
        previous_first: str | None = None
        while True:
            body = self._get(path, {**params, "page": str(page)})
            items = [self._model(Refund, item, "GET", path) for item in _items(body, path)]
            if not items:
                return refunds
            first = _identity(items[0].id, None)
            if first == previous_first:
                raise _repeated_page_error(path)
            previous_first = first
            refunds.extend(items)
            meta = body.get("meta")
            page_count = meta_int(meta.get("pageCount")) if isinstance(meta, dict) else None
            next_page = _next_offset_page(page, page_count, len(items), per_page)
            if next_page is None:
                return refunds
            page = next_page

    def fetch_refund(self, refund_id: int) -> Refund:
        """GET /refund/:id."""
        path = f"/refund/{_positive_int(refund_id, 'refund id')}"
        return self._model(Refund, _object(self._get(path), "GET", path), "GET", path)

    def create_refund(
        self,
        *,
        transaction: str | int,
        amount: int | None = None,
        currency: str | None = None,
        merchant_note: str | None = None,
        customer_note: str | None = None,
    ) -> Refund:
        """POST /refund (never retried: Paystack has no idempotency key for refunds).

        `amount` None refunds the full transaction. An unanswered request raises
        PaystackRequestAmbiguous: list the transaction's refunds before trying again.
        """
        if isinstance(transaction, int):
            tx: str | int = _positive_int(transaction, "transaction")
        else:
            tx = _required_text(transaction, "transaction reference or id")
        body = _drop_none(
            {
                "transaction": tx,
                "amount": None if amount is None else _positive_int(amount, "amount"),
                "currency": currency,
                "merchant_note": merchant_note,
                "customer_note": customer_note,
            }
        )
        hint = (
            f"list the refunds of transaction {tx} at Paystack (GET /refund?transaction=<id>, "
            "or `proaudit refunds resume`) before refunding again; never retry blindly"
        )
        path = "/refund"
        data = _object(self._post(path, body, ambiguous_hint=hint), "POST", path, hint)
        return self._model(Refund, data, "POST", path, ambiguous_hint=hint)

    # -- charges -----------------------------------------------------------------------------
    def initialize_transaction(
        self,
        *,
        email: str,
        amount: int,
        reference: str | None = None,
        currency: str | None = None,
        callback_url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> InitializedTransaction:
        """POST /transaction/initialize: a checkout link. Never retried."""
        body = _drop_none(
            {
                "email": _required_text(email, "email"),
                "amount": _positive_int(amount, "amount"),
                "reference": None if reference is None else _required_text(reference, "reference"),
                "currency": currency,
                "callback_url": callback_url,
                "metadata": metadata,
            }
        )
        hint = (
            f"verify reference {reference} at Paystack before initializing it again"
            if reference
            else "look the transaction up at Paystack before initializing another one"
        )
        path = "/transaction/initialize"
        data = _object(self._post(path, body, ambiguous_hint=hint), "POST", path, hint)
        return self._model(InitializedTransaction, data, "POST", path, ambiguous_hint=hint)

    def charge_authorization(
        self,
        *,
        email: str,
        amount: int,
        authorization_code: str,
        reference: str,
        currency: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Transaction:
        """POST /transaction/charge_authorization. Never retried.

        Paystack answers HTTP 200 even when the charge fails: read `status`. A 2FA-paused charge
        comes back with `paused=True`, `status="paused"` and the `authorization_url` the customer
        must open; verify the reference later.
        """
        ref = _required_text(reference, "reference")
        body = _drop_none(
            {
                "email": _required_text(email, "email"),
                "amount": _positive_int(amount, "amount"),
                "authorization_code": _required_text(authorization_code, "authorization code"),
                "reference": ref,
                "currency": currency,
                "metadata": metadata,
            }
        )
        hint = (
            f"verify reference {ref} at Paystack (proaudit payments verify {ref}) before "
            "charging again; Paystack rejects a reused reference"
        )
        path = "/transaction/charge_authorization"
        data = _object(self._post(path, body, ambiguous_hint=hint), "POST", path, hint)
        if _truthy(data.get("paused")):
            data = {
                "amount": amount,
                "currency": currency or "",
                "reference": ref,
                **{k: v for k, v in data.items() if v is not None},
            }
            data.setdefault("status", "paused")
        return self._model(Transaction, data, "POST", path, ambiguous_hint=hint)

    # -- the wire ------------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        attempts = 0

        def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return self._send("GET", path, params=params)

        retrying = read_retrying(
            max_retries=self._max_retries,
            sleep=self._sleep,
            max_wait_s=self._max_retry_wait_s,
            before_sleep=self._log_retry("GET", path),
        )
        try:
            response = retrying(attempt)
        except httpx.HTTPError as exc:
            raise self._read_transport_error(path, exc, attempts) from exc
        return self._envelope(response, "GET", path, attempts=attempts)

    def _post(self, path: str, body: dict[str, Any], *, ambiguous_hint: str) -> dict[str, Any]:
        try:
            response = self._send("POST", path, json=body)
        except httpx.HTTPError as exc:
            raise self._write_transport_error(path, exc, ambiguous_hint) from exc
        return self._envelope(response, "POST", path, attempts=1, ambiguous_hint=ambiguous_hint)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        started = time.monotonic()
        response = self._http.request(method, path, params=params, json=json)
        log.debug(
            "Paystack %s %s -> HTTP %d in %.2fs",
            method,
            path,
            response.status_code,
            time.monotonic() - started,
        )
        return response

    def _log_retry(self, method: str, path: str) -> Callable[[RetryCallState], None]:
        total = self._max_retries + 1

        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome
            if outcome is None:  # pragma: no cover - tenacity always sets it before sleeping
                return
            if outcome.failed:
                what = type(outcome.exception()).__name__
            else:
                what = f"HTTP {outcome.result().status_code}"
            wait = state.upcoming_sleep
            log.warning(
                "Paystack %s %s: %s on attempt %d of %d; retrying in %.1fs",
                method,
                path,
                what,
                state.attempt_number,
                total,
                wait,
            )

        return before_sleep

    # -- error mapping -------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        return redact(_one_line(text), self._secrets)

    def _detail(self, exc: BaseException) -> str:
        return self._clean(str(exc) or type(exc).__name__)

    def _read_transport_error(
        self, path: str, exc: httpx.HTTPError, attempts: int
    ) -> PaystackError:
        tries = _attempts(attempts)
        if isinstance(exc, httpx.ConnectTimeout):
            message = (
                f"Paystack could not be reached at {self._host}: no connection within "
                f"{self._timeout_s:g}s (GET {path}, {tries})"
            )
        elif isinstance(exc, httpx.TimeoutException):
            message = (
                f"Paystack did not answer GET {path} within the {self._timeout_s:g}s timeout "
                f"({tries})"
            )
        else:
            message = (
                f"Paystack could not be reached at {self._host} (GET {path}, {tries}): "
                f"{self._detail(exc)}"
            )
        hint = (
            "check network, DNS and proxy access to Paystack and PAYSTACK_BASE_URL; "
            "raise PAYSTACK_TIMEOUT_SECONDS if Paystack is only slow"
        )
        return PaystackError(self._clean(message), hint)

    def _write_transport_error(
        self, path: str, exc: httpx.HTTPError, ambiguous_hint: str
    ) -> PaystackError:
        if isinstance(exc, _NOT_SENT):
            return PaystackError(
                self._clean(
                    f"Paystack could not be reached at {self._host}; POST {path} was not sent: "
                    f"{self._detail(exc)}"
                ),
                "check network, DNS and proxy access to Paystack; it is safe to try again",
            )
        if isinstance(exc, httpx.TimeoutException):
            reason = f"no answer within the {self._timeout_s:g}s timeout"
        else:
            reason = f"the connection failed mid-request: {self._detail(exc)}"
        return PaystackRequestAmbiguous(
            self._clean(
                f"outcome unknown: POST {path} may have reached Paystack ({reason}); "
                "check at Paystack before retrying"
            ),
            ambiguous_hint,
        )

    def _envelope(
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
        message = self._clean(_text(fields.get("message")))
        next_step = _next_step(fields.get("meta"))
        said = f": {message}" if message else ""

        def fail(cls: type[PaystackError], text: str, hint: str | None) -> PaystackError:
            return cls(
                self._clean(text),
                None if hint is None else self._clean(hint),
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
            raise fail(
                PaystackError,
                f"Paystack is rate-limiting this key (HTTP 429{said}); {method} {path} {outcome}",
                next_step or "wait a minute and try again; other tools may share this key's quota",
            )
        if code in RETRYABLE_STATUS or code >= 500:
            detail = said if body is not None else " with a body that is not JSON"
            raise fail(
                PaystackError,
                f"Paystack failed with HTTP {code}{detail} ({method} {path}, "
                f"{_attempts(attempts)})",
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

    def _model(
        self,
        model: type[M],
        data: object,
        method: str,
        path: str,
        *,
        ambiguous_hint: str | None = None,
    ) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            detail = self._clean(_validation_summary(exc))
            if method == "POST" and ambiguous_hint is not None:
                raise PaystackRequestAmbiguous(
                    f"outcome unknown: Paystack accepted POST {path} but its answer cannot be "
                    f"read ({detail}); check at Paystack before retrying",
                    ambiguous_hint,
                ) from exc
            raise PaystackError(
                f"Paystack answered {method} {path} with a payload proaudit cannot read: {detail}",
                "rerun with --debug and report it: the payload shape may have changed",
            ) from exc


# -- helpers ------------------------------------------------------------------------------------
def _check_secret_key(secret_key: object) -> None:
    if not isinstance(secret_key, str) or not secret_key:
        raise ConfigError("no Paystack secret key was given", hint="set PAYSTACK_SECRET_KEY")
    if any(not (33 <= ord(ch) <= 126) for ch in secret_key):
        raise ConfigError(
            "the Paystack secret key contains whitespace or characters that cannot be sent",
            hint=KEY_HINT,
        )


def _required_text(value: object, what: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise UsageError(f"a {what} is required (got {value!r})")
    return text


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"the {what} must be a positive integer (got {value!r})")
    return value


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _iso(value: datetime) -> str:
    text = iso(value)
    assert text is not None
    return text


def _truthy(value: object) -> bool:
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


def _object(
    body: dict[str, Any], method: str, path: str, ambiguous_hint: str | None = None
) -> dict[str, Any]:
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
        "rerun with --debug and report it: the payload shape may have changed",
    )


def _items(body: dict[str, Any], path: str) -> list[Any]:
    data = body.get("data")
    if data is None:
        return []
    if isinstance(data, list):
        return data
    raise PaystackError(
        f"Paystack answered GET {path} with a data field that is not a list",
        "rerun with --debug and report it: the payload shape may have changed",
    )


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _identity(obj_id: int | None, reference: str | None) -> str:
    return f"{obj_id}/{reference}"


def _next_offset_page(
    current: int, page_count: int | None, n_items: int, per_page: int
) -> int | None:
    if n_items == 0:
        return None
    if page_count is not None:
        return current + 1 if current < page_count else None
    return current + 1 if n_items >= per_page else None


def _repeated_page_error(path: str) -> PaystackError:
    return PaystackError(
        f"Paystack returned the same page twice while paging GET {path}; stopped to avoid a loop",
        "retry later; if it persists, page with explicit --from/--to windows",
    )
