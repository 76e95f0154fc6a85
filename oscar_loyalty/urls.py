from django.urls import path

from . import views

app_name = "oscar_loyalty"

urlpatterns = [
    path("accounts/rewards/", views.RewardsView.as_view(), name="rewards"),
]
