"""The `jobs` command: list and run."""

import pytest
from django.core.management import call_command

from shoal.schedules.models import JobRun
from tests.schedules.conftest import CALLS


@pytest.mark.django_db
def test_jobs_cli_lists_and_runs(capsys):
    CALLS.clear()
    call_command("jobs", "list")
    out = capsys.readouterr().out
    assert "test.count" in out and "system.prune_job_history" in out
    call_command("jobs", "run", "test.count")
    assert "succeeded" in capsys.readouterr().out and len(CALLS) == 1
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="boom"):
        call_command("jobs", "run", "test.explode")
    with pytest.raises(CommandError):
        call_command("jobs", "run", "no.such.job")
    assert JobRun.objects.filter(trigger="cli").count() == 2
