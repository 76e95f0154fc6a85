"""Brands, for stores whose suppliers forbid discounts on their products.

Oscar has no brand model: a product's brand is read from the product attribute
``OSCAR_LOYALTY_BRAND_ATTRIBUTE`` (default ``brand``), or, when
``OSCAR_LOYALTY_BRAND_CATEGORY`` names a category, from the child of that
category the product (or its parent) belongs to. Excluding a brand from a
coupon writes Oscar's own range exclusions, so Oscar's offer machinery (the
basket, the checkout, the dashboard) applies them like any other.
"""

from django.db import transaction
from django.db.models import Q
from oscar.core.loading import get_model

from ..conf import loyalty_settings
from ..models import BrandExclusion

Category = get_model("catalogue", "Category")
Product = get_model("catalogue", "Product")
ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")


def brand_category():
    name = loyalty_settings.BRAND_CATEGORY
    if not name:
        return None
    return Category.objects.filter(depth=1, name=name).first()


def all_brands() -> list[str]:
    """Every brand in the catalogue, sorted."""
    root = brand_category()
    if root is not None:
        return sorted(root.get_children().values_list("name", flat=True))
    values = ProductAttributeValue.objects.filter(attribute__code=loyalty_settings.BRAND_ATTRIBUTE)
    names = set(values.exclude(value_text=None).values_list("value_text", flat=True))
    names |= set(values.exclude(value_option=None).values_list("value_option__option", flat=True))
    return sorted(n for n in names if n)


def brands_of(products) -> dict[int, str]:
    """The brand of each product (or of its parent), by product id, in two queries."""
    parents = {p.pk: p.parent_id or p.pk for p in products}
    root = brand_category()
    if root is not None:
        brands = dict(root.get_children().values_list("path", "name"))
        found = {}
        for product_id, path in Product.categories.through.objects.filter(
            product_id__in=set(parents.values())
        ).values_list("product_id", "category__path"):
            for brand_path, name in brands.items():
                if path.startswith(brand_path):
                    found[product_id] = name
    else:
        found = {}
        for product_id, text, option in ProductAttributeValue.objects.filter(
            attribute__code=loyalty_settings.BRAND_ATTRIBUTE,
            product_id__in=set(parents.values()),
        ).values_list("product_id", "value_text", "value_option__option"):
            found[product_id] = text or option
    return {pk: found[parent] for pk, parent in parents.items() if found.get(parent)}


def products_of_brand(brand):
    """Products of ``brand``, and their variants."""
    root = brand_category()
    if root is not None:
        category = root.get_children().filter(name__iexact=brand).first()
        if category is None:
            return Product.objects.none()
        q = Q(categories__path__startswith=category.path)
        q |= Q(parent__categories__path__startswith=category.path)
        return Product.objects.filter(q).distinct()
    q = Q(attribute_values__attribute__code=loyalty_settings.BRAND_ATTRIBUTE) & (
        Q(attribute_values__value_text__iexact=brand)
        | Q(attribute_values__value_option__option__iexact=brand)
    )
    own = Product.objects.filter(q).values("pk")
    return Product.objects.filter(Q(pk__in=own) | Q(parent__in=own)).distinct()


def brand_products(range_) -> list[int]:
    """Ids of the products the range excludes because of a brand exclusion."""
    return list(
        BrandExclusion.products.through.objects.filter(brandexclusion__range=range_)
        .values_list("product_id", flat=True)
        .distinct()
    )


@transaction.atomic
def set_excluded_brands(range_, brands) -> None:
    """Make ``brands`` exactly the brands excluded from ``range_``."""
    wanted = {b.strip() for b in brands if b and b.strip()}
    for exclusion in BrandExclusion.objects.filter(range=range_).exclude(brand__in=wanted):
        range_.excluded_products.remove(*exclusion.products.all())
        exclusion.delete()
    for brand in wanted:
        exclusion, _ = BrandExclusion.objects.get_or_create(range=range_, brand=brand)
        sync(exclusion)
    range_.invalidate_cached_queryset()


def sync(exclusion) -> None:
    """Bring the range's exclusions in line with the brand's products today."""
    current = set(products_of_brand(exclusion.brand).values_list("pk", flat=True))
    before = set(exclusion.products.values_list("pk", flat=True))
    manual = set(exclusion.range.excluded_products.values_list("pk", flat=True)) - before
    stale = before - current
    if stale - manual:
        exclusion.range.excluded_products.remove(*(stale - manual))
    exclusion.range.excluded_products.add(*(current - before))
    exclusion.products.set(current)


def sync_all() -> None:
    """Re-sync every brand exclusion (after products changed brand)."""
    for exclusion in BrandExclusion.objects.select_related("range"):
        sync(exclusion)
