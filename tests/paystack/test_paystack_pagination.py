"""Paging: cursor meta (`next`), offset meta (`page`/`pageCount`), and where paging stops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from paystack_fakes import FakePaystack, ok, refund, transaction

from proaudit_ops.errors import PaystackError
from proaudit_ops.paystack import PaystackClient

MakeClient = Callable[..., PaystackClient]

_ABSENT = object()


def _txs(*ids: int) -> list[dict[str, Any]]:
    return [transaction(id=i, reference=f"ref-{i}", amount=str(i * 100)) for i in ids]


@pytest.mark.parametrize(
    "end",
    [None, "null", "", "  null ", _ABSENT],
    ids=["json-null", "string-null", "empty", "padded-null", "absent"],
)
def test_cursor_paging_stops_at_a_missing_cursor(make_client: MakeClient, end: object) -> None:
    last_meta: dict[str, Any] = {"previous": "dW5kZWZpbmVkOjE=", "perPage": 2}
    if end is not _ABSENT:
        last_meta["next"] = end
    fake = FakePaystack(
        ok(_txs(1, 2), meta={"next": "Y3Vyc29yOjI=", "previous": "null", "perPage": 2}),
        ok(_txs(3, 4), meta={"next": "Y3Vyc29yOjQ=", "previous": None, "perPage": "2"}),
        ok(_txs(5), meta=last_meta),
    )
    found = list(make_client(fake).iter_transactions(status="success", per_page=2))
    assert [tx.id for tx in found] == [1, 2, 3, 4, 5]
    assert [tx.amount for tx in found] == [100, 200, 300, 400, 500]
    assert len(fake.requests) == 3
    assert fake.params(0) == {"perPage": "2", "use_cursor": "true", "status": "success"}
    assert fake.params(1) == {
        "perPage": "2",
        "use_cursor": "true",
        "next": "Y3Vyc29yOjI=",
        "status": "success",
    }
    assert fake.params(2)["next"] == "Y3Vyc29yOjQ="


def test_cursor_paging_stops_on_an_empty_page_even_with_a_cursor(make_client: MakeClient) -> None:
    fake = FakePaystack(
        ok(_txs(1), meta={"next": "a"}),
        ok([], meta={"next": "b"}),
    )
    assert [tx.id for tx in make_client(fake).iter_transactions()] == [1]
    assert len(fake.requests) == 2


def test_cursor_paging_refuses_to_loop_on_a_repeated_cursor(make_client: MakeClient) -> None:
    fake = FakePaystack(
        ok(_txs(1), meta={"next": "same"}),
        ok(_txs(2), meta={"next": "same"}),
    )
    with pytest.raises(PaystackError, match="same page twice"):
        list(make_client(fake).iter_transactions())
    assert len(fake.requests) == 2


def test_offset_paging_over_three_pages(make_client: MakeClient) -> None:
    meta = {"total": 5, "skipped": 0, "perPage": "2", "pageCount": 3, "total_volume": 1500}
    fake = FakePaystack(
        ok(_txs(1, 2), meta={**meta, "page": 1}),
        ok(_txs(3, 4), meta={**meta, "page": 2}),
        ok(_txs(5), meta={**meta, "page": 3}),
    )
    found = list(make_client(fake).iter_transactions(per_page=2, use_cursor=False))
    assert [tx.id for tx in found] == [1, 2, 3, 4, 5]
    assert [fake.params(i) for i in range(3)] == [
        {"perPage": "2", "page": "1"},
        {"perPage": "2", "page": "2"},
        {"perPage": "2", "page": "3"},
    ]


def test_a_cursor_request_answered_with_offset_meta_follows_pages(make_client: MakeClient) -> None:
    fake = FakePaystack(
        ok(_txs(1, 2), meta={"total": 3, "perPage": 2, "page": 1, "pageCount": 2}),
        ok(_txs(3), meta={"total": 3, "perPage": 2, "page": 2, "pageCount": 2}),
    )
    found = list(make_client(fake).iter_transactions(per_page=2, use_cursor=True))
    assert [tx.id for tx in found] == [1, 2, 3]
    assert fake.params(0) == {"perPage": "2", "use_cursor": "true"}
    assert fake.params(1) == {"perPage": "2", "page": "2"}


def test_offset_paging_without_page_count_stops_on_a_short_page(make_client: MakeClient) -> None:
    fake = FakePaystack(ok(_txs(1, 2)), ok(_txs(3)))
    found = list(make_client(fake).iter_transactions(per_page=2, use_cursor=False))
    assert [tx.id for tx in found] == [1, 2, 3]
    assert len(fake.requests) == 2


def test_offset_paging_stops_on_an_empty_page(make_client: MakeClient) -> None:
    fake = FakePaystack(
        ok(_txs(1, 2), meta={"page": 1, "pageCount": 9}),
        ok([], meta={"page": 2, "pageCount": 9}),
    )
    assert len(list(make_client(fake).iter_transactions(per_page=2, use_cursor=False))) == 2
    assert len(fake.requests) == 2


def test_offset_paging_refuses_a_server_that_ignores_page(make_client: MakeClient) -> None:
    fake = FakePaystack(ok(_txs(1, 2)), ok(_txs(1, 2)))
    with pytest.raises(PaystackError, match="same page twice"):
        list(make_client(fake).iter_transactions(per_page=2, use_cursor=False))


def test_iteration_is_lazy(make_client: MakeClient) -> None:
    fake = FakePaystack(ok(_txs(1, 2), meta={"next": "more"}), ok(_txs(3), meta={}))
    iterator = make_client(fake).iter_transactions(per_page=2)
    assert next(iterator).id == 1
    assert len(fake.requests) == 1


def test_data_null_is_an_empty_page(make_client: MakeClient) -> None:
    fake = FakePaystack(ok(None, meta={"next": None}))
    page = make_client(fake).list_transactions_page()
    assert page.items == []
    assert page.next_cursor is None


def test_list_refunds_over_three_pages(make_client: MakeClient) -> None:
    meta = {"total": 5, "skipped": 0, "perPage": "2", "pageCount": 3, "failedRefundCount": 0}
    fake = FakePaystack(
        ok([refund(id=1), refund(id=2, amount="2500")], meta={**meta, "page": 1}),
        ok([refund(id=3), refund(id=4, fully_deducted=0)], meta={**meta, "page": 2}),
        ok([refund(id=5, status="failed")], meta={**meta, "page": 3}),
    )
    refunds = make_client(fake).list_refunds(transaction=1004723697, per_page=2)
    assert [r.id for r in refunds] == [1, 2, 3, 4, 5]
    assert refunds[1].amount == 2500
    assert refunds[3].fully_deducted is False
    assert refunds[4].status == "failed"
    assert [fake.params(i)["page"] for i in range(3)] == ["1", "2", "3"]
    assert all(fake.params(i)["transaction"] == "1004723697" for i in range(3))
    assert all(fake.params(i)["perPage"] == "2" for i in range(3))


def test_list_refunds_of_a_transaction_without_refunds(make_client: MakeClient) -> None:
    fake = FakePaystack(ok([], meta={"total": 0, "perPage": "100", "page": 1, "pageCount": 0}))
    assert make_client(fake).list_refunds(transaction=5) == []
    assert len(fake.requests) == 1


def test_list_refunds_without_page_count_stops_on_a_short_page(make_client: MakeClient) -> None:
    fake = FakePaystack(ok([refund(id=1), refund(id=2)]), ok([refund(id=3)]))
    assert [r.id for r in make_client(fake).list_refunds(per_page=2)] == [1, 2, 3]
    assert "transaction" not in fake.params(0)
