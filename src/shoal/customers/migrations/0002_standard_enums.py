"""Enum groups behind the configurable standard fields (source, customer type, lifecycle stage)."""

from django.db import migrations

GROUPS = {
    "customer_source": ("客户来源", [
        ("natural", "自然流量"), ("agent", "代理推荐"), ("ads", "广告投放"), ("referral", "好友推荐"),
        ("import", "导入"), ("api", "API"), ("bot", "机器人"), ("manual", "手工录入"),
    ]),
    "customer_type": ("客户类型", [
        ("potential", "潜在用户"), ("opportunity", "销售商机"), ("deal", "成交客户"),
    ]),
    "lifecycle_stage": ("生命周期阶段", []),
}


def forwards(apps, schema_editor):
    EnumGroup = apps.get_model("customers", "EnumGroup")
    EnumItem = apps.get_model("customers", "EnumItem")
    for code, (name, items) in GROUPS.items():
        group, _ = EnumGroup.objects.get_or_create(
            code=code, defaults={"name": name, "description": "Options of the standard customer field"})
        for order, (item_code, label) in enumerate(items):
            EnumItem.objects.get_or_create(group=group, code=item_code, defaults={"label": label, "order": order})


def backwards(apps, schema_editor):
    apps.get_model("customers", "EnumGroup").objects.filter(code__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
