"""Demo tags, so a fresh installation shows tags, quality scores and the tag boards at work: a category
"客户价值" with four auto tags (rules over the demo fields) whose scores make the customers' quality, and a
manual tag. Created only when no tag exists; then the auto tags are refreshed once (before the demo pool
rules run, so the assignment shares customers out by quality)."""

from __future__ import annotations

from shoal.core.actors import SYSTEM

from . import services
from .models import Tag
from .refresh import refresh

DEMO_AUTO_TAGS = [  # name, score, rule (custom SQL over the demo fields), description
    ("高净值", 30, "assets >= 500000", "资产 50 万及以上"),
    ("付费客户", 20, "plan IN ('basic', 'pro', 'enterprise')", "基础版、专业版或企业版"),
    ("企业版", 20, "plan = 'enterprise'", "企业版套餐"),
    ("一线城市", 10, "city IN ('上海', '北京', '深圳', '广州')", "上海、北京、深圳、广州"),
]


def ensure_demo_tags() -> dict[str, int]:
    if Tag.objects.exists():
        return {}
    category = services.category_create(actor=SYSTEM, data={"name": "客户价值", "object_type": "customer"})
    for name, score, sql, description in DEMO_AUTO_TAGS:
        tag = services.tag_create(actor=SYSTEM, data={"name": name, "category_id": category.pk, "kind": "auto",
                                                      "score": score, "description": description})
        services.rule_create(actor=SYSTEM, tag=tag, data={"sql": sql})
    services.tag_create(actor=SYSTEM, data={"name": "重点跟进", "category_id": category.pk, "kind": "manual",
                                            "score": 5, "description": "业务员手动标记"})
    result = refresh(full=True)
    return {"tags": len(DEMO_AUTO_TAGS) + 1, "taggings": result.get("added", 0)}
