"""Fixtures for the Paystack client tests (helpers live in paystack_fakes.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from paystack_fakes import FAKE_KEY, FakePaystack

from proaudit_ops.paystack import PaystackClient


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait the client asked for, instead of sleeping."""
    return []


@pytest.fixture
def make_client(sleeps: list[float]) -> Iterator[Callable[..., PaystackClient]]:
    clients: list[PaystackClient] = []

    def factory(fake: FakePaystack, **kwargs: Any) -> PaystackClient:
        kwargs.setdefault("sleep", sleeps.append)
        client = PaystackClient(FAKE_KEY, transport=httpx.MockTransport(fake), **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()
