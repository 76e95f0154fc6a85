"""The loyalty entries for Oscar's dashboard menu, ready to append to the store's::

    from oscar_loyalty.dashboard.navigation import LOYALTY_NAVIGATION
    OSCAR_DASHBOARD_NAVIGATION = [*OSCAR_DASHBOARD_NAVIGATION, *LOYALTY_NAVIGATION]

(below ``from oscar.defaults import *`` and the store's own changes, which it keeps).
"""

from django.utils.translation import gettext_lazy as _

LOYALTY_NAVIGATION = [
    {
        "label": _("Loyalty"),
        "icon": "fas fa-gift",
        "children": [
            {"label": _("Program figures"), "url_name": "loyalty-dashboard:kpis"},
            {"label": _("Customers' points"), "url_name": "loyalty-dashboard:customer-list"},
            {"label": _("In store"), "url_name": "loyalty-dashboard:in-store"},
            {"label": _("Coupons"), "url_name": "loyalty-dashboard:coupon-list"},
            {"label": _("Rewards"), "url_name": "loyalty-dashboard:reward-list"},
            {"label": _("Tiers"), "url_name": "loyalty-dashboard:tier-list"},
            {"label": _("Bonus campaigns"), "url_name": "loyalty-dashboard:campaign-list"},
            {"label": _("Import from another program"), "url_name": "loyalty-dashboard:import"},
            {"label": _("Accountant's export"), "url_name": "loyalty-dashboard:accounting"},
            {
                "label": _("Records"),
                "url_name": "loyalty-dashboard:record-list",
                "url_kwargs": {"slug": "entries"},
            },
            {"label": _("Bonus actions"), "url_name": "loyalty-dashboard:bonus-action-list"},
            {"label": _("Customer segments"), "url_name": "loyalty-dashboard:segment-list"},
            {"label": _("Win-back"), "url_name": "loyalty-dashboard:winback-list"},
        ],
    },
]
