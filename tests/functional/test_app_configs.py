"""The app configs own their views, as Oscar's apps do, so a store can swap one."""

import pytest
from django.apps import apps
from django.urls import resolve

from oscar_loyalty import views
from oscar_loyalty.dashboard import views as dashboard_views


@pytest.mark.parametrize(
    "url, attribute, view",
    [
        ("/accounts/rewards/", "rewards_view", views.RewardsView),
        ("/basket/points/", "use_points_view", views.UsePointsView),
        ("/r/ABC/", "referral_link_view", views.ReferralLinkView),
    ],
)
def test_urls_serve_the_configs_view(url, attribute, view):
    config = apps.get_app_config("oscar_loyalty")
    assert getattr(config, attribute) is view
    assert resolve(url).func.view_class is view


def test_the_dashboard_config_has_a_view_and_a_permission_for_each_page():
    config = apps.get_app_config("oscar_loyalty_dashboard")
    assert config.coupon_list_view is dashboard_views.CouponListView
    names = {pattern.name for pattern in config.get_urls()}
    assert names == set(config.permissions_map)
    assert all(config.get_permissions(name) == ["is_staff"] for name in names)


def test_oscars_voucher_url_reaches_the_coupon_view_the_config_sets(monkeypatch, rf):
    from django.http import HttpResponse

    from oscar_loyalty.coupons.views import CouponAddView
    from oscar_loyalty.middleware import CouponLimitMiddleware

    class StoreCouponView(CouponAddView):
        def post(self, request, *args, **kwargs):
            return HttpResponse("the store's own")

    monkeypatch.setattr(apps.get_app_config("oscar_loyalty"), "coupon_add_view", StoreCouponView)
    middleware = CouponLimitMiddleware(lambda request: None)
    url = "/basket/vouchers/add/"
    oscars = resolve(url)
    response = middleware.process_view(rf.post(url), oscars.func, (), {})
    assert response.content == b"the store's own"
