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

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import RetryCallState

from proaudit_ops import __version__
from proaudit_ops.errors import ConfigError, PaystackError, UsageError
from proaudit_ops.paystack.models import (
    InitializedTransaction,
    Refund,
    Transaction,
    TransactionPage,
    cursor_or_none,
    meta_int,
)
from proaudit_ops.paystack.responses import (
    KEY_HINT,
    ResponseReader,
    data_items,
    data_object,
    truthy,
)
from proaudit_ops.paystack.retry import read_retrying
from proaudit_ops.redact import mask_key
from proaudit_ops.timeutil import iso

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.paystack.co"


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
        limiter: Callable[[str, str], None] | None = None,
    ) -> None:
        _check_secret_key(secret_key)
        if not timeout_s > 0:
            raise ConfigError(
                f"the Paystack timeout must be positive (got {timeout_s!r})",
                hint="set PAYSTACK_TIMEOUT_SECONDS to a number of seconds, e.g. 30",
            )
        self._key_label = mask_key(secret_key)
        self._base_url = base_url.rstrip("/")
        self._host = httpx.URL(self._base_url).host or self._base_url
        self._timeout_s = float(timeout_s)
        self._max_retries = max(0, int(max_retries))
        self._sleep = sleep
        self._read = ResponseReader(host=self._host, timeout_s=self._timeout_s, secrets=(secret_key,), mode=self.mode)
        self._max_retry_wait_s = float(max_retry_wait_s)
        # The shared rate limit (kv/ratelimit.py): called with (method, path) before every request, retries included.
        self._limiter = limiter
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
        path = _path("transaction", "verify", _segment(reference, "transaction reference"))
        return self._read.model(Transaction, data_object(self._get(path), "GET", path), "GET", path)

    def fetch_transaction(self, transaction_id: int) -> Transaction:
        """GET /transaction/:id (Paystack's numeric id)."""
        path = _path("transaction", str(_positive_int(transaction_id, "transaction id")))
        return self._read.model(Transaction, data_object(self._get(path), "GET", path), "GET", path)

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
        items = [self._read.model(Transaction, item, "GET", path) for item in data_items(body, path)]
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

    # -- export (reconcile's source for days too large to page) ---------------------------------
    def export_transactions(
        self, *, from_: datetime | None = None, to: datetime | None = None, status: str | None = None
    ) -> str:
        """GET /transaction/export: the link to a CSV of the matching transactions (`data.path`)."""
        params: dict[str, str] = {}
        if from_ is not None:
            params["from"] = _iso(from_)
        if to is not None:
            params["to"] = _iso(to)
        if status is not None:
            params["status"] = status
        path = "/transaction/export"
        data = data_object(self._get(path, params), "GET", path)
        link = data.get("path")
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            raise PaystackError(
                f"Paystack's GET {path} answer has no usable file link", "retry later, or use --source api"
            )
        return link

    def iter_export_rows(self, link: str) -> Iterator[dict[str, str]]:
        """The rows of an export's CSV, streamed (constant memory), as dicts keyed by lower-case header.

        The link is a signed file URL (on another host at Paystack): the secret key is never sent to it.
        """
        import csv

        request = self._http.build_request("GET", link)
        del request.headers["Authorization"]
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise PaystackError(
                f"could not download the export file: {type(exc).__name__}", "retry, or use --source api"
            ) from None
        try:
            if response.status_code != 200:
                raise PaystackError(
                    f"the export file answered HTTP {response.status_code}",
                    "the link may have expired: run again (a new export is requested), or use --source api",
                )
            reader = csv.reader(response.iter_lines())
            header = [name.strip().lower() for name in next(reader, [])]
            for values in reader:
                if values:
                    yield dict(zip(header, values, strict=False))
        except httpx.HTTPError as exc:
            raise PaystackError(
                f"the export download broke off: {type(exc).__name__}", "run again with --resume"
            ) from None
        finally:
            response.close()

    def list_refunds_page(
        self, *, from_: datetime | None = None, to: datetime | None = None, page: int = 1, per_page: int = 100
    ) -> tuple[list[Refund], int | None]:
        """One offset page of GET /refund created in [from_, to], and Paystack's pageCount."""
        params: dict[str, str] = {
            "perPage": str(_positive_int(per_page, "per_page")),
            "page": str(_positive_int(page, "page")),
        }
        if from_ is not None:
            params["from"] = _iso(from_)
        if to is not None:
            params["to"] = _iso(to)
        path = "/refund"
        body = self._get(path, params)
        items = [self._read.model(Refund, item, "GET", path) for item in data_items(body, path)]
        meta = body.get("meta")
        return items, meta_int(meta.get("pageCount")) if isinstance(meta, dict) else None

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
            items = [self._read.model(Refund, item, "GET", path) for item in data_items(body, path)]
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
        path = _path("refund", str(_positive_int(refund_id, "refund id")))
        return self._read.model(Refund, data_object(self._get(path), "GET", path), "GET", path)

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
            tx = str(_positive_int(transaction, "transaction"))  # the description's RefundCreate: a string
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
        data = data_object(self._post(path, body, ambiguous_hint=hint), "POST", path, hint)
        return self._read.model(Refund, data, "POST", path, ambiguous_hint=hint)

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
        data = data_object(self._post(path, body, ambiguous_hint=hint), "POST", path, hint)
        return self._read.model(InitializedTransaction, data, "POST", path, ambiguous_hint=hint)

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
                # Paystack's TransactionChargeAuthorization: "Stringified JSON object of custom data"
                "metadata": None if metadata is None else json.dumps(metadata, separators=(",", ":")),
            }
        )
        hint = (
            f"verify reference {ref} at Paystack (proaudit payments verify {ref}) before "
            "charging again; Paystack rejects a reused reference"
        )
        path = "/transaction/charge_authorization"
        data = data_object(self._post(path, body, ambiguous_hint=hint), "POST", path, hint)
        if truthy(data.get("paused")):
            data = {
                "amount": amount,
                "currency": currency or "",
                "reference": ref,
                **{k: v for k, v in data.items() if v is not None},
            }
            data.setdefault("status", "paused")
        return self._read.model(Transaction, data, "POST", path, ambiguous_hint=hint)

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
            raise self._read.read_transport_error(path, exc, attempts) from exc
        return self._read.envelope(response, "GET", path, attempts=attempts)

    def _post(self, path: str, body: dict[str, Any], *, ambiguous_hint: str) -> dict[str, Any]:
        try:
            response = self._send("POST", path, json=body)
        except httpx.HTTPError as exc:
            raise self._read.write_transport_error(path, exc, ambiguous_hint) from exc
        return self._read.envelope(response, "POST", path, attempts=1, ambiguous_hint=ambiguous_hint)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        if self._limiter is not None:
            self._limiter(method, path)
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
            what = type(outcome.exception()).__name__ if outcome.failed else f"HTTP {outcome.result().status_code}"
            wait = state.upcoming_sleep
            # INFO, not WARNING: the CLI decides what reaches stderr (Python's last-resort
            # handler would otherwise print every retry under the one-line error).
            log.info(
                "Paystack %s %s: %s on attempt %d of %d; retrying in %.1fs",
                method,
                path,
                what,
                state.attempt_number,
                total,
                wait,
            )

        return before_sleep


# -- helpers ------------------------------------------------------------------------------------
def _check_secret_key(secret_key: object) -> None:
    if not isinstance(secret_key, str) or not secret_key:
        raise ConfigError("no Paystack secret key was given", hint="set PAYSTACK_SECRET_KEY")
    if any(not (33 <= ord(ch) <= 126) for ch in secret_key):
        raise ConfigError(
            "the Paystack secret key contains whitespace or characters that cannot be sent",
            hint=KEY_HINT,
        )


def _segment(value: object, what: str) -> str:
    """A value that becomes one URL path segment, refused (never stripped or altered) when it could
    name another resource: empty, surrounded by whitespace, or only dots (`.`/`..` are resolved
    away by the URL layer, so `verify/..` would GET /transaction)."""
    if not isinstance(value, str) or value == "":
        raise UsageError(f"a {what} is required (got {value!r})")
    if value != value.strip():
        raise UsageError(f"the {what} {value!r} has whitespace around it")
    if set(value) == {"."}:
        raise UsageError(f"the {what} {value!r} is only dots, not a {what}")
    return value


def _path(*segments: str) -> str:
    """`/a/b/c` from segments, each percent-escaped whole: nothing in a segment can add a `/`, a `?`
    or a `#`, so what an operator typed can never change which endpoint is called."""
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


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


def _identity(obj_id: int | None, reference: str | None) -> str:
    return f"{obj_id}/{reference}"


def _next_offset_page(current: int, page_count: int | None, n_items: int, per_page: int) -> int | None:
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
