"""Store coupons: the brands a coupon's range never discounts.

``coupons.brands`` writes these rows, from the dashboard's coupon form.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class BrandExclusion(models.Model):
    """A brand whose products a coupon's range never discounts.

    Oscar has no brand model, so the exclusion is kept as Oscar's own
    ``Range.excluded_products`` (brands from a product attribute) or
    ``Range.excluded_categories`` (brands as categories); ``products`` records
    which exclusions this brand put there, so they can be taken back.
    """

    range = models.ForeignKey(
        "offer.Range",
        on_delete=models.CASCADE,
        related_name="brand_exclusions",
        verbose_name=_("Range"),
    )
    brand = models.CharField(_("Brand"), max_length=128)
    products = models.ManyToManyField("catalogue.Product", blank=True, related_name="+")

    class Meta:
        verbose_name = _("Brand exclusion")
        verbose_name_plural = _("Brand exclusions")
        constraints = [
            models.UniqueConstraint(fields=["range", "brand"], name="loyalty_brand_exclusion_once")
        ]

    def __str__(self):
        return self.brand
