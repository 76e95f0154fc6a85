from django.apps import apps
from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
urlpatterns += i18n_patterns(
    # Oscar's header links to its login page: send it to allauth's instead.
    path("accounts/login/", RedirectView.as_view(pattern_name="account_login", query_string=True)),
    path(
        "accounts/register/",
        RedirectView.as_view(pattern_name="account_signup", query_string=True),
    ),
    path("auth/", include("allauth.urls")),
    # The loyalty dashboard under Oscar's dashboard path, its storefront pages at the root.
    path("dashboard/loyalty/", apps.get_app_config("oscar_loyalty_dashboard").urls),
    path("", include("oscar_loyalty.urls")),
    path("", include(apps.get_app_config("oscar").urls[0])),
    prefix_default_language=False,
)
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
