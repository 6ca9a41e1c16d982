"""Fixtures: a seeded SQLite sandbox (billing + simulator tables) and clients over it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from sandbox_helpers import app_client, paystack_client
from sqlalchemy import Engine

from proaudit_ops.sandbox.seed import seed_billing, seed_simulator
from proaudit_ops.sandbox.state import create_sim_schema
from proaudit_ops.timeutil import utcnow


@pytest.fixture
def now() -> datetime:
    return utcnow().replace(microsecond=0)


@pytest.fixture
def engine(sqlite_engine: Engine, now: datetime) -> Engine:
    """The billing schema (from tests/conftest.py) plus the sim schema, both seeded."""
    create_sim_schema(sqlite_engine)
    seed_billing(sqlite_engine, now=now)
    seed_simulator(sqlite_engine, now=now)
    return sqlite_engine


@pytest.fixture
def paystack(engine: Engine) -> Iterator[httpx.Client]:
    with paystack_client(engine) as client:
        yield client


@pytest.fixture
def app(engine: Engine) -> Iterator[httpx.Client]:
    with app_client(engine) as client:
        yield client
