"""The built-in event types (导入内置事件): 理财产品到期, 修改密码, 生日提醒, 为客户打标签, 客户交易, 新用户注册.

Names and labels are English here and stored in the importing user's language."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .models import EventFieldType as T


def _f(key, kind, label, required=False):
    return {"key": key, "type": kind, "label": label, "required": required, "remarks": ""}


BUILTINS = [
    {"code": "product_maturity", "name": _("Product maturity"), "fields": [
        _f("product_code", T.TEXT, _("Product code"), True), _f("product_name", T.TEXT, _("Product name")),
        _f("amount", T.NUMBER, _("Amount")), _f("maturity_date", T.DATE, _("Maturity date"), True)]},
    {"code": "password_changed", "name": _("Password changed"), "fields": [
        _f("changed_at", T.DATETIME, _("Changed at")), _f("channel", T.TEXT, _("Channel"))]},
    {"code": "birthday", "name": _("Birthday reminder"), "fields": [
        _f("birthday", T.DATE, _("Birthday"), True)]},
    {"code": "tag_added", "name": _("Tag added to customer"), "fields": [
        _f("tag_id", T.NUMBER, _("Tag id"), True), _f("tag_name", T.TEXT, _("Tag name"))]},
    {"code": "transaction", "name": _("Customer transaction"), "fields": [
        _f("order_id", T.TEXT, _("Order number"), True), _f("amount", T.NUMBER, _("Amount"), True),
        _f("product", T.TEXT, _("Product")), _f("paid_at", T.DATETIME, _("Paid at"))]},
    {"code": "registration", "name": _("New user registration"), "fields": [
        _f("channel", T.TEXT, _("Channel")), _f("registered_at", T.DATETIME, _("Registered at"))]},
]
