"""Paystack's side of the window, as pages of staged rows: the list API (cursor pages), the
transaction export (a CSV link, in batches of rows), and the refunds (offset pages).

Each generator yields `(rows, checkpoint)`: `checkpoint` is what resumes right after this page
(the next cursor, the next refund page, the count of CSV rows consumed), None when it was the last.
A background thread fetches the next page while the caller stages this one (bounded: two pages).
"""

from __future__ import annotations

import json
import math
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.reconcile.stage import StagedRow
from proaudit_ops.errors import PaystackError

if TYPE_CHECKING:
    from proaudit_ops.paystack import PaystackClient, Transaction
    from proaudit_ops.paystack.models import Refund

PER_PAGE = 100
EXPORT_BATCH = 2_000
Page = tuple[list[StagedRow], str | None]


@dataclass(frozen=True)
class SourceChoice:
    source: str  # api | export
    reason: str
    expected_rows: int | None
    expected_pages: int | None


def estimate(client: PaystackClient, window_from: datetime, window_to: datetime) -> int | None:
    """How many transactions the window holds (one offset request, perPage=1: meta.total)."""
    page = client.list_transactions_page(from_=window_from, to=window_to, per_page=1, page=1)
    return page.total


def choose(requested: str, total: int | None, *, max_pages: int, page_seconds: float) -> SourceChoice:
    """api, export, or (auto) export only when paging would take longer than the budget allows."""
    pages = None if total is None else max(1, math.ceil(total / PER_PAGE))
    if requested == "api":
        return SourceChoice("api", "--source api", total, pages)
    if requested == "export":
        return SourceChoice("export", "--source export", total, pages)
    if pages is None:
        return SourceChoice("api", "Paystack did not say how many transactions the window holds", total, pages)
    minutes = pages * page_seconds / 60
    if pages > max_pages:
        return SourceChoice(
            "export",
            f"{pages:,} page(s) (~{minutes:.0f} min at Paystack's rate limit) is over proaudit_reconcile_max_pages "
            f"= {max_pages:,}: one CSV export instead",
            total,
            pages,
        )
    return SourceChoice(
        "api", f"{pages:,} page(s) is within proaudit_reconcile_max_pages = {max_pages:,}", total, pages
    )


def _metadata_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def tx_row(run_id: str, tx: Transaction) -> StagedRow:
    return (
        run_id,
        "tx",
        tx.id,
        tx.reference,
        tx.status,
        tx.amount,
        tx.requested_amount,
        tx.currency,
        tx.paid_at,
        tx.gateway_response,
        tx.channel,
        None,
        _metadata_text(tx.metadata),
    )


def refund_row(run_id: str, refund: Refund) -> StagedRow:
    return (
        run_id,
        "refund",
        refund.id,
        refund.transaction_reference,
        refund.status,
        refund.amount,
        None,
        refund.currency,
        refund.refunded_at,
        None,
        None,
        refund.transaction_id,
        None,
    )


def api_pages(
    client: PaystackClient, run_id: str, window_from: datetime, window_to: datetime, cursor: str | None
) -> Iterator[Page]:
    """Cursor pages of GET /transaction from `cursor` (None: the first page)."""
    seen: set[str] = set()
    first = True
    while first or cursor is not None:
        first = False
        page = client.list_transactions_page(
            from_=window_from, to=window_to, per_page=PER_PAGE, cursor=cursor, use_cursor=True
        )
        rows = [tx_row(run_id, tx) for tx in page.items]
        following = page.next_cursor if page.items else None
        if following is not None:
            if following in seen:
                raise PaystackError(
                    "Paystack returned the same cursor twice while paging GET /transaction; stopped to avoid a loop",
                    "retry later (--resume continues from the last page staged)",
                )
            seen.add(following)
        yield rows, following
        cursor = following


def _csv_int(value: str | None) -> int | None:
    from proaudit_ops.money import to_subunits

    text = (value or "").strip()
    return None if text in ("", "null") else to_subunits(text)


def _csv_time(value: str | None) -> datetime | None:
    from proaudit_ops.timeutil import parse_iso

    text = (value or "").strip()
    return None if text in ("", "null") else parse_iso(text)


def export_row(run_id: str, values: dict[str, str]) -> StagedRow:
    """One CSV row (headers lower-cased) as a staged row; a row without a reference is refused."""
    reference = (values.get("reference") or "").strip()
    amount = _csv_int(values.get("amount"))
    if not reference or amount is None:
        raise PaystackError("the export file has a row without a reference or an amount", "use --source api")
    return (
        run_id,
        "tx",
        _csv_int(values.get("id")),
        reference,
        (values.get("status") or "").strip(),
        amount,
        _csv_int(values.get("requested_amount")),
        (values.get("currency") or "").strip() or None,
        _csv_time(values.get("paid_at")),
        values.get("gateway_response") or None,
        values.get("channel") or None,
        None,
        values.get("metadata") or None,
    )


def export_pages(
    client: PaystackClient, run_id: str, window_from: datetime, window_to: datetime, cursor: str | None
) -> Iterator[Page]:
    """The export's CSV, streamed in batches; a resume asks for a new link and skips the rows staged."""
    skip = int(cursor or 0)
    link = client.export_transactions(from_=window_from, to=window_to)
    consumed = 0
    batch: list[StagedRow] = []
    for values in client.iter_export_rows(link):
        consumed += 1
        if consumed <= skip:
            continue
        batch.append(export_row(run_id, values))
        if len(batch) >= EXPORT_BATCH:
            yield batch, str(consumed)
            batch = []
    yield batch, None


def refund_pages(
    client: PaystackClient, run_id: str, window_from: datetime, until: datetime, cursor: str | None
) -> Iterator[Page]:
    """Refunds created from the window's start until now (a refund comes after its payment)."""
    page = int(cursor or 1)
    while True:
        items, page_count = client.list_refunds_page(from_=window_from, to=until, page=page, per_page=PER_PAGE)
        last = not items or (page_count is not None and page >= page_count) or len(items) < PER_PAGE
        yield [refund_row(run_id, r) for r in items], None if last else str(page + 1)
        if last:
            return
        page += 1


_END = object()


def prefetched(pages: Iterator[Page], depth: int = 2) -> Iterator[Page]:
    """Fetch ahead in a thread while the caller stages: download and database work overlap.

    At most `depth` pages wait in memory; an error in the fetching thread is raised here, in order.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in pages:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(exc)

    worker = threading.Thread(target=produce, name="reconcile-fetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
