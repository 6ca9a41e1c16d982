"""Keep secrets out of every line the tool prints, logs or audits. Light: no heavy imports."""

from __future__ import annotations

import re

MASK = "****"
_URL_PASSWORD_RE = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
_KEY_RE = re.compile(r"\b(sk|pk|rk)_(live|test)_[A-Za-z0-9]+")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[^\s\"']+")
_SECRET_FLAG_RE = re.compile(r"(?i)(--?(?:secret|key|password|token|paystack-secret-key|database-url)[=\s])(\S+)")


def mask_url(url: str) -> str:
    """`postgresql://u:pw@h/db` -> `postgresql://u:****@h/db`."""
    return _URL_PASSWORD_RE.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


def mask_key(key: str) -> str:
    """Show only the kind of key: `sk_live_****` (the mode matters to an operator, the rest never)."""
    match = re.match(r"^\s*((?:sk|pk|rk)_(?:live|test)_)", key)
    return f"{match.group(1)}{MASK}" if match else MASK


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Mask known secret values, anything shaped like a Paystack key, bearer tokens and DSN passwords."""
    for secret in sorted({s for s in secrets if s and len(s.strip()) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
        stripped = secret.strip()
        if stripped != secret:
            text = text.replace(stripped, MASK)
    text = _KEY_RE.sub(lambda m: f"{m.group(1)}_{m.group(2)}_{MASK}", text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return mask_url(text)


def redact_argv(argv: list[str], secrets: list[str] | tuple[str, ...] = ()) -> str:
    """The command line as the audit log stores it."""
    joined = " ".join(argv)
    joined = _SECRET_FLAG_RE.sub(lambda m: f"{m.group(1)}{MASK}", joined)
    return redact(joined, secrets)
