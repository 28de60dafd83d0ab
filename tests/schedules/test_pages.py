"""The schedule pages: edit the cron, run now, descriptions translated."""

import pytest
from django.test import Client
from django.urls import reverse

from shoal.schedules import services
from shoal.schedules.models import JobRun, ScheduledJob
from shoal.schedules.services import sync_registry
from tests.conftest import make_user
from tests.schedules.conftest import CALLS, run_worker


@pytest.mark.django_db
def test_schedule_page_edits_cron_and_runs_now(client, superuser, django_capture_on_commit_callbacks):
    CALLS.clear()
    services.sync_registry()
    job = ScheduledJob.objects.get(name="test.count")
    client.force_login(superuser)
    page = client.get("/schedules/scheduledjob/")
    assert page.status_code == 200 and "test.count" in page.content.decode()
    bad = client.post(f"/schedules/scheduledjob/{job.pk}/change/", {"cron": "nonsense", "enabled": "on",
                                                                   "runs-TOTAL_FORMS": 0, "runs-INITIAL_FORMS": 0})
    assert bad.status_code == 200  # the form again, with the error
    job.refresh_from_db()
    assert job.cron == "*/5 * * * *"
    with django_capture_on_commit_callbacks(execute=True):
        client.get(reverse("admin:schedules_scheduledjob_run_now", args=[job.pk]))
    assert JobRun.objects.filter(job=job, trigger="manual").count() == 1
    run_worker()
    assert len(CALLS) == 1


def test_job_descriptions_are_translated(db):
    sync_registry()
    admin = make_user("jobs_zh", is_superuser=True, language="zh-hans")
    client = Client()
    client.force_login(admin)
    html = client.get("/schedules/scheduledjob/").content.decode()
    assert "清除已过期的登录会话" in html and "Remove expired login sessions" not in html
    api = client.get("/api/v1/jobs").json()
    items = api["items"] if isinstance(api, dict) else api
    assert "清除已过期的登录会话" in {job["description"] for job in items}


def test_job_list_leads_with_the_description(db):
    import re

    sync_registry()
    job = ScheduledJob.objects.get(name="system.clear_expired_sessions")
    admin = make_user("jobs_zh2", is_superuser=True, language="zh-hans")
    client = Client()
    client.force_login(admin)
    html = client.get("/schedules/scheduledjob/").content.decode()
    assert html.index("column-job_description") < html.index("column-name")  # the name is a secondary column
    link = re.search(rf'<a href="[^"]*/schedules/scheduledjob/{job.pk}/change/[^"]*"[^>]*>\s*(.*?)\s*</a>', html, re.S)
    assert link and link.group(1) == "清除已过期的登录会话", link and link.group(1)


def test_job_runs_show_trigger_words_and_result_not_codes(db):
    """The runs on a job's page: the trigger in words (立即执行, not manual), what the run did, and no English
    "test.count succeeded" title above each row (found using the pools' jobs, qa)."""
    sync_registry()
    job = ScheduledJob.objects.get(name="test.count")
    JobRun.objects.create(job=job, trigger="manual", status="succeeded", result={"assigned": 12, "seconds": 0.3})
    admin = make_user("jobs_zh3", is_superuser=True, language="zh-hans")
    client = Client()
    client.force_login(admin)
    html = client.get(f"/schedules/scheduledjob/{job.pk}/change/").content.decode()
    runs = html.split("runs-TOTAL_FORMS", 1)[-1]
    assert "立即执行" in runs and '"assigned": 12' in html.replace("&quot;", '"')
    assert "test.count succeeded" not in html and ">manual<" not in html.replace(" ", "").replace("\n", "")
