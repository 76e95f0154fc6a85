"""Every error the plugin raises on purpose, under one base class.

A store (or a view of ours) can catch ``LoyaltyError`` to handle any refusal;
each subclass says what was refused and that nothing was written.
"""

from django.utils.translation import gettext_lazy as _


class LoyaltyError(Exception):
    """A loyalty operation was refused; nothing changed."""


class LedgerError(LoyaltyError):
    """A ledger operation was refused; nothing was written."""


class InsufficientPoints(LedgerError):
    """The account does not hold enough points for this operation."""

    def __init__(self, available: int, requested: int):
        self.available = available
        self.requested = requested
        super().__init__(
            _("Not enough points: %(available)d available, %(requested)d requested.")
            % {"available": available, "requested": requested}
        )


class KeyReused(LedgerError):
    """A till's key already names a different posting; nothing was written."""

    def __init__(self):
        super().__init__(_("This key was already used for a different request."))


class RedemptionError(LoyaltyError):
    """Points could not be spent; nothing changed. ``message`` is for the customer."""

    def __init__(self, message):
        self.message = message
        super().__init__(message)


class CouponRefused(LoyaltyError):
    """A typed coupon code was refused. ``message`` is for the customer."""

    def __init__(self, message):
        self.message = message
        super().__init__(message)


class CodeSpaceExhausted(LoyaltyError, RuntimeError):
    """Fresh codes keep colliding with existing ones: the code length is far too short."""


class BonusError(LoyaltyError):
    """A bonus action's input was refused (an impossible birthday, say); nothing changed.
    ``message`` is for the customer."""

    def __init__(self, message):
        self.message = message
        super().__init__(message)
