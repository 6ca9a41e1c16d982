"""The Paystack API client (httpx + tenacity), typed models, and webhook signatures.

Exports are loaded lazily (PEP 562), so `from proaudit_ops.paystack.signatures import ...` and
`import proaudit_ops.paystack` stay free of httpx and pydantic until a client or model is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proaudit_ops.lazy import lazy_exports

if TYPE_CHECKING:
    from proaudit_ops.paystack.client import PaystackClient
    from proaudit_ops.paystack.models import (
        Authorization,
        Customer,
        InitializedTransaction,
        Refund,
        Transaction,
        TransactionPage,
    )
    from proaudit_ops.paystack.signatures import (
        SIGNATURE_HEADER,
        compute_signature,
        verify_signature,
    )

_EXPORTS = {
    "PaystackClient": "client",
    "Authorization": "models",
    "Customer": "models",
    "InitializedTransaction": "models",
    "Refund": "models",
    "Transaction": "models",
    "TransactionPage": "models",
    "SIGNATURE_HEADER": "signatures",
    "compute_signature": "signatures",
    "verify_signature": "signatures",
}

__all__ = [
    "SIGNATURE_HEADER",
    "Authorization",
    "Customer",
    "InitializedTransaction",
    "PaystackClient",
    "Refund",
    "Transaction",
    "TransactionPage",
    "compute_signature",
    "verify_signature",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
