"""Customer detail tabs (客户详情TABS): admin-configured URL templates."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation
from shoal.core.services import model_update

from ..models import DetailTab
from ..tabs import validate_tab_url

TAB_FIELDS = ("name", "url", "order", "enabled")


def _clean_tab(data: dict) -> dict:
    values = {k: data[k] for k in TAB_FIELDS if k in data}
    if "url" in values:
        try:
            values["url"] = validate_tab_url(values["url"])
        except ValidationError as exc:
            raise ShoalError("invalid_value", str(exc.messages[0]), {"field": "url"})
    return values


def _logged(tab: DetailTab) -> dict:
    return {"url": tab.url, "order": tab.order, "enabled": tab.enabled}


def detail_tab_create(*, actor, data: dict) -> DetailTab:
    tab = DetailTab.objects.create(**_clean_tab(data))
    log_operation(actor=actor, action="detail_tab.create", obj=tab, detail=_logged(tab))
    return tab


def detail_tab_update(*, actor, tab: DetailTab, data: dict) -> DetailTab:
    model_update(instance=tab, fields=TAB_FIELDS, data=_clean_tab(data))
    log_operation(actor=actor, action="detail_tab.update", obj=tab, detail=_logged(tab))
    return tab


def detail_tab_delete(*, actor, tab: DetailTab) -> None:
    log_operation(actor=actor, action="detail_tab.delete", obj=tab)
    tab.delete()
