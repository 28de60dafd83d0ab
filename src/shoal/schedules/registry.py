"""Apps register jobs by name: ``@register_job("tags.auto_tag", cron="30 5 * * *")``.

A description is English, marked with ``gettext_noop``: it is stored as is and shown translated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[[], Any]
    cron: str
    description: str = ""
    enabled: bool = True


JOBS: dict[str, JobSpec] = {}


def register_job(name: str, *, cron: str, description: str = "", enabled: bool = True):
    def decorator(func):
        JOBS[name] = JobSpec(name=name, func=func, cron=cron, description=description, enabled=enabled)
        return func

    return decorator
