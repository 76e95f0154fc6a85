"""django-allauth's adapter, keeping the customer's language through sign-up and login.

A shop whose URLs carry the language (``i18n_patterns``: ``/es/...``) sends a
customer who signed up on ``/es/auth/signup/`` to ``LOGIN_REDIRECT_URL``
(``/accounts/``): a URL without the prefix, so an English page. The adapter
gives the redirects after sign-up, login, logout and a password change in the
language of the request that made them (``/es/accounts/``). A shop choosing
the language by cookie or browser needs nothing: those survive the login.

Use ``AccountAdapter``, or mix ``KeepLanguageMixin`` into your own adapter.
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url
from django.utils import translation


def in_language(request: HttpRequest, url: str) -> str:
    """``url`` (a path of this site) in the language of ``request``.

    Unchanged when it is not a path of ours (another site, a URL Django cannot
    resolve) or when the site's URLs carry no language.
    """
    language = getattr(request, "LANGUAGE_CODE", None) or translation.get_language()
    if not language or not isinstance(url, str) or not url.startswith("/"):
        return url
    if url.startswith(("//", "/\\")):  # another site
        return url
    # Resolved in its own language (a path without a prefix is the default one's).
    with translation.override(translation.get_language_from_path(url) or settings.LANGUAGE_CODE):
        return translate_url(url, language)


class KeepLanguageMixin:
    """The URLs allauth sends a customer to after signing up or in, in their language."""

    def get_signup_redirect_url(self, request: HttpRequest) -> str:
        return in_language(request, super().get_signup_redirect_url(request))  # type: ignore[misc]

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return in_language(request, super().get_login_redirect_url(request))  # type: ignore[misc]

    def get_logout_redirect_url(self, request: HttpRequest) -> str:
        return in_language(request, super().get_logout_redirect_url(request))  # type: ignore[misc]

    def get_password_change_redirect_url(self, request: HttpRequest) -> str:
        url = super().get_password_change_redirect_url(request)  # type: ignore[misc]
        return in_language(request, url)


class AccountAdapter(KeepLanguageMixin, DefaultAccountAdapter):
    """allauth's default adapter, keeping the customer's language (``ACCOUNT_ADAPTER``)."""
