"""Loyalty points, coupons and referrals for django-oscar stores."""

__version__ = "0.1.0"
