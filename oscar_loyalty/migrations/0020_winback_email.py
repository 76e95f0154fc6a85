from django.db import migrations

# The win-back email's event type, as 0012 made the others'.
CODE, NAME = "LOYALTY_WINBACK", "Loyalty: win-back coupon"
FILE = '{%% extends "oscar/communication/emails/commtype_%s_%s" %%}'


def add_email_type(apps, schema_editor):
    CommunicationEventType = apps.get_model("communication", "CommunicationEventType")
    CommunicationEventType.objects.get_or_create(
        code=CODE,
        defaults={
            "name": NAME,
            "category": "User related",
            "email_subject_template": FILE % (CODE.lower(), "subject.txt"),
            "email_body_template": FILE % (CODE.lower(), "body.txt"),
            "email_body_html_template": FILE % (CODE.lower(), "body.html"),
        },
    )


def remove_email_type(apps, schema_editor):
    CommunicationEventType = apps.get_model("communication", "CommunicationEventType")
    CommunicationEventType.objects.filter(code=CODE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("oscar_loyalty", "0019_segments_and_winback"),
        ("communication", "__first__"),
    ]

    operations = [migrations.RunPython(add_email_type, remove_email_type)]
