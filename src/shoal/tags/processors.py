"""The tag processors of automation (``add_tag``, ``remove_tag``): a manual customer tag given to or taken
from the event's customer, through the tags services (history, scores, counts, refresh on change)."""

from __future__ import annotations

import time

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from pydantic import BaseModel, ConfigDict, Field

from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError
from shoal.core.processors import FAILED, SKIPPED, SUCCEEDED, ProcessorSpec, result

from .models import ObjectType, Tag, TagKind, TagSource


class TagParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag_id: int = Field(ge=1, le=2**63 - 1, description="a manual customer tag")


def _tag(tag_id: int) -> Tag | None:
    return Tag.objects.select_related("category").filter(pk=tag_id).first()


def check(params: TagParams) -> None:
    tag = _tag(params.tag_id)
    if tag is None or tag.kind != TagKind.MANUAL or tag.category.object_type != ObjectType.CUSTOMER:
        raise ShoalError("invalid", _("Choose a manual customer tag"), {"field": "tag_id"})


def _run(write, *, customer, params: TagParams) -> object:
    started = time.monotonic()
    if customer is None:
        return result(FAILED, _("The event has no customer"), started=started)
    tag = _tag(params.tag_id)
    if tag is None:
        return result(FAILED, _("Tag not found"), started=started)
    try:
        changed = write(actor=SYSTEM, tag=tag, customer_ids=[customer.pk], source=TagSource.AUTOMATION)
    except ShoalError as exc:
        return result(FAILED, exc.message, started=started, code=exc.code)
    return result(SUCCEEDED if changed else SKIPPED, "" if changed else _("Nothing to change"), started=started,
                  tag=tag.name)


def add_tag(*, customer, event_data, params: TagParams, context):
    from .services import apply_tag

    return _run(apply_tag, customer=customer, params=params)


def remove_tag(*, customer, event_data, params: TagParams, context):
    from .services import remove_tag as untag

    return _run(untag, customer=customer, params=params)


ADD_TAG = ProcessorSpec("add_tag", pgettext_lazy("processor", "Add tag"), add_tag, TagParams, order=10, check=check,
                        param_labels={"tag_id": pgettext_lazy("processor parameter", "Tag")},
                        description=gettext_lazy("Gives a manual tag to the customer."))
REMOVE_TAG = ProcessorSpec("remove_tag", pgettext_lazy("processor", "Remove tag"), remove_tag, TagParams, order=11, check=check,
                           param_labels={"tag_id": pgettext_lazy("processor parameter", "Tag")},
                           description=gettext_lazy("Takes a manual tag from the customer."))
