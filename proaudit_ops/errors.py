"""The one exit-code enum and the error tree every layer raises.

Errors carry a one-line message (what failed) and a hint (what to do next); the CLI funnel
turns them into a stderr line, an exit code and a JSON envelope. Keep this module free of
heavy imports: `proaudit --help` loads it.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDING = 1  # a check found drift, a mismatch or a breached threshold
    USAGE = 2  # bad input; nothing was changed
    UNAVAILABLE = 3  # Paystack, the database, Redis or the app endpoint cannot be reached
    REFUSED = 4  # guard failed, stale plan, lock held, live key without --live, no TTY/--yes
    UNKNOWN_OUTCOME = 5  # an external side effect whose result could not be determined
    INTERNAL = 70  # a bug in proaudit itself (EX_SOFTWARE); rerun with --debug and report it
    INTERRUPTED = 130


class ProauditError(Exception):
    """Base of every error the tool reports on purpose."""

    exit_code: ExitCode = ExitCode.USAGE
    code: str = "error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(ProauditError):
    exit_code = ExitCode.USAGE
    code = "usage"


class ConfigError(UsageError):
    code = "config"


class NotFoundError(UsageError):
    code = "not_found"


class DependencyUnavailable(ProauditError):
    exit_code = ExitCode.UNAVAILABLE
    code = "unavailable"


class DatabaseUnavailable(DependencyUnavailable):
    code = "database_unavailable"


class RedisUnavailable(DependencyUnavailable):
    code = "redis_unavailable"


class EndpointUnavailable(DependencyUnavailable):
    code = "endpoint_unavailable"


class PaystackError(DependencyUnavailable):
    """Paystack answered with an error, or could not be reached.

    `status_code` is None when no HTTP answer came back (timeout, connection refused).
    """

    code = "paystack_error"

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status_code: int | None = None,
        paystack_code: str | None = None,
        paystack_type: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status_code = status_code
        self.paystack_code = paystack_code
        self.paystack_type = paystack_type
        self.retry_after: float | None = None  # seconds, from a 429's Retry-After


class PaystackNotFound(PaystackError):
    """Paystack does not know the object (404, or status false with a not-found message).

    Bad input (exit 2), not an outage: cron must not page for a mistyped reference.
    """

    exit_code = ExitCode.USAGE
    code = "paystack_not_found"


class PaystackRequestAmbiguous(PaystackError):
    """A POST may have reached Paystack but its answer was lost: never retry blindly."""

    exit_code = ExitCode.UNKNOWN_OUTCOME
    code = "outcome_unknown"


class Refused(ProauditError):
    exit_code = ExitCode.REFUSED
    code = "refused"


class PaystackModeMismatch(Refused):
    """Paystack returned an object whose `domain` contradicts the key's mode (test data for a live
    key, or the reverse): something between us and Paystack is not what it claims. Act on nothing."""

    code = "paystack_mode_mismatch"


class OutcomeUnknown(ProauditError):
    exit_code = ExitCode.UNKNOWN_OUTCOME
    code = "outcome_unknown"


class Interrupted(ProauditError):
    exit_code = ExitCode.INTERRUPTED
    code = "interrupted"
