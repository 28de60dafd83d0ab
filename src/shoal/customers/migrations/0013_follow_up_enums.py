"""Enum groups of the follow-up record (跟进记录): maturity (成熟度) and invitation type (邀请类型), the options
of the manual's follow-up form (§3.3.1.1, §3.3.2.2). Admins edit them under 枚举管理 like any enum.

The labels are stored in English and shown through gettext (``shoal.sales.services.follow_ups``), so a seeded
label reads in the user's language; a label an admin changes shows as written."""

from django.db import migrations
from django.utils.translation import gettext_noop

GROUPS = {
    "follow_up_maturity": (gettext_noop("Follow-up maturity"), [
        ("potential", gettext_noop("Potential customer")),
        ("interested", gettext_noop("Interested customer")),
        ("key_account", gettext_noop("Key account")),
        ("deal", gettext_noop("Customer with a deal")),
    ]),
    "follow_up_invitation_type": (gettext_noop("Follow-up invitation type"), [
        ("self_registered", gettext_noop("Registered by themselves")),
        ("friend_referral", gettext_noop("Referred by a friend")),
        ("sales_invitation", gettext_noop("Invited by a salesperson")),
        ("event", gettext_noop("Invited at an event")),
    ]),
}


def forwards(apps, schema_editor):
    EnumGroup = apps.get_model("customers", "EnumGroup")
    EnumItem = apps.get_model("customers", "EnumItem")
    for code, (name, items) in GROUPS.items():
        group, _ = EnumGroup.objects.get_or_create(
            code=code, defaults={"name": name, "description": "Options of the follow-up record"})
        for order, (item_code, label) in enumerate(items):
            EnumItem.objects.get_or_create(group=group, code=item_code, defaults={"label": label, "order": order})


def backwards(apps, schema_editor):
    apps.get_model("customers", "EnumGroup").objects.filter(code__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [("customers", "0012_timeline_one_customer_index")]
    operations = [migrations.RunPython(forwards, backwards)]
