"""The hash-chained audit log (table ops_audit_log, JSONL fallback file) and its verifier."""

from proaudit_ops.audit.canonical import GENESIS_HASH, canonical_json, plain_json
from proaudit_ops.audit.log import AuditLog, ShipResult
from proaudit_ops.audit.query import get, head, query
from proaudit_ops.audit.records import OUTCOMES, AuditContext, AuditEntry, AuditRecord
from proaudit_ops.audit.verify import VerifyResult, verify_chain, verify_file

__all__ = [
    "GENESIS_HASH",
    "OUTCOMES",
    "AuditContext",
    "AuditEntry",
    "AuditLog",
    "AuditRecord",
    "ShipResult",
    "VerifyResult",
    "canonical_json",
    "get",
    "head",
    "plain_json",
    "query",
    "verify_chain",
    "verify_file",
]
