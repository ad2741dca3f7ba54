class LedgerError(ValueError):
    """A journal entry that cannot be posted as given (unbalanced, wrong currency, …)."""


class IdempotencyConflict(LedgerError):
    """The idempotency key was already used for a different entry."""
