"""Existing data made safe: coupon ranges named from their code, welcome coupons owner-bound.

Ranges made before were named from the coupon's free-text name, which Oscar's
offer pages render as HTML; welcome coupons made before worked in anyone's
basket. Data only, and reversible as a no-op.
"""

from django.db import migrations

OWNER_CONDITION = "oscar_loyalty.models.OwnerCondition"


def rename_coupon_ranges(apps, schema_editor):
    Voucher = apps.get_model("voucher", "Voucher")
    Range = apps.get_model("offer", "Range")
    for voucher in Voucher.objects.prefetch_related("offers__condition__range"):
        offers = list(voucher.offers.all())
        if len(offers) != 1 or offers[0].name != f"Coupon {voucher.code}":
            continue  # not made by the coupon pages
        range_ = offers[0].condition.range
        name = f"Coupon {voucher.code}"
        if range_ is None or range_.name == name:
            continue
        if Range.objects.filter(name=name).exclude(pk=range_.pk).exists():
            continue
        Range.objects.filter(pk=range_.pk).update(name=name)


def bind_welcome_coupons(apps, schema_editor):
    Referral = apps.get_model("oscar_loyalty", "Referral")
    Condition = apps.get_model("offer", "Condition")
    welcome = Referral.objects.exclude(welcome_voucher=None).values("welcome_voucher")
    Condition.objects.filter(
        offers__vouchers__in=welcome, type="Count", proxy_class__isnull=True
    ).update(proxy_class=OWNER_CONDITION)


def forwards(apps, schema_editor):
    rename_coupon_ranges(apps, schema_editor)
    bind_welcome_coupons(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("oscar_loyalty", "0005_referrals"),
        ("offer", "0001_initial"),
        ("voucher", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
