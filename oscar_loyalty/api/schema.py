"""The API's OpenAPI 3 schema: only the loyalty endpoints, whatever else the store serves.

Passed to drf-spectacular's view as its own settings, so the store's
``SPECTACULAR_SETTINGS`` (and its other APIs) are neither needed nor changed.
"""

from .. import __version__

# Answers every endpoint may give, besides its own.
COMMON_RESPONSES = {
    "401": "Not signed in: send `Authorization: Token <key>` or a session cookie.",
    "403": "Signed in, but not allowed (staff endpoints), or a missing CSRF token.",
    "429": "Too many requests: wait the `Retry-After` seconds.",
}


def only_loyalty_endpoints(endpoints, **kwargs):
    from .views import LoyaltyAPIView

    return [
        (path, regex, method, callback)
        for path, regex, method, callback in endpoints
        if issubclass(getattr(callback, "cls", object), LoyaltyAPIView)
    ]


def add_common_responses(result, generator, request, public):
    error = {"$ref": "#/components/schemas/Error"}
    for item in result.get("paths", {}).values():
        for operation in item.values():
            for code, description in COMMON_RESPONSES.items():
                operation["responses"].setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": error}},
                    },
                )
    return result


SCHEMA_SETTINGS = {
    "TITLE": "oscar_loyalty API",
    "DESCRIPTION": "Points, rewards and referrals for the customer's app and the shop's till.",
    "VERSION": __version__,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"EntryKindEnum": "oscar_loyalty.models.LedgerEntry.Kind"},
    "PREPROCESSING_HOOKS": [f"{__name__}.only_loyalty_endpoints"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        f"{__name__}.add_common_responses",
    ],
}
