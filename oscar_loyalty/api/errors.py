"""Every refusal of the API has one shape: ``{"detail": ..., "fields": {...}}``.

``detail`` is always a sentence for the user; ``fields`` (only for bad input)
names each field that was refused and why, as DRF's validation says it. Apps
need one error parser, and the schema can promise it.
"""

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework.views import exception_handler


def handle_exception(exc, context):
    response = exception_handler(exc, context)
    if response is not None:
        response.data = as_error(response.data)
    return response


def as_error(data) -> dict:
    if isinstance(data, dict) and set(data) == {"detail"}:
        return {"detail": _text(data["detail"])}
    if isinstance(data, dict):
        fields = {str(name): [str(m) for m in _messages(value)] for name, value in data.items()}
        first = next((messages[0] for messages in fields.values() if messages), "")
        return {"detail": first or _("Invalid input."), "fields": fields}
    return {"detail": _text(data)}


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Any other address under the API: a JSON 404, like the API's own."""
    return JsonResponse({"detail": _("Not found.")}, status=404)


def _text(value) -> str:
    return " ".join(str(m) for m in _messages(value))


def _messages(value) -> list:
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list | tuple):
        return [m for v in value for m in _messages(v)]
    return [value]
