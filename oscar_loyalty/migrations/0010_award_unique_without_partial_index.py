# One award per order and account: the portable form of one customer award per order
# (MariaDB has no partial unique indexes). Added before the old one goes.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('order', '0021_billingaddress_code_shippingaddress_code'),
        ('oscar_loyalty', '0009_clawback_shortfalls_and_points_benefit'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='pendingaward',
            constraint=models.UniqueConstraint(fields=('order', 'account'), name='loyalty_award_one_per_order_and_account'),
        ),
        migrations.RemoveConstraint(
            model_name='pendingaward',
            name='loyalty_award_one_per_order',
        ),
    ]
