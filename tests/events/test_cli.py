"""``shoal events send FILE.jsonl [--app-key K]``: batches of 1,000, a progress line on stderr, the JSON summary
last on stdout; ``shoal events process`` drains the queue."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from shoal.events.models import Event, EventStat, PendingEvent

from .conftest import event

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("events", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue().strip().splitlines()[-1]), err.getvalue()


def test_send_a_jsonl_file_as_an_application(tmp_path, app, purchase):
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(event(i, customer={"ent_user_id": f"c{i % 40}"}), ensure_ascii=False) for i in range(2500)]
    lines[10] = lines[9]  # a duplicate
    lines[20] = "{not json"
    lines[30] = json.dumps(event(30, data={}))
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    summary, progress = run("send", str(path), "--app-key", app.raw_key)
    assert (summary["lines"], summary["accepted"], summary["duplicate"], summary["failed"]) == (2500, 2497, 1, 2)
    assert summary["reasons"] == {"invalid_event": 1, "missing_field": 1}
    assert progress.count("events:") == 3  # one line per batch of 1,000
    assert Event.objects.filter(application=app).count() == 2499
    assert PendingEvent.objects.count() == 2497
    processed, _ = run("process")
    assert processed["processed"] == 2497
    assert sum(EventStat.objects.values_list("count", flat=True)) == 2497


def test_send_without_an_application_and_process_at_once(tmp_path, purchase):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(event(1)) + "\n" + json.dumps(event(2)) + "\n", encoding="utf-8")
    summary, _ = run("send", str(path), "--process")
    assert summary["accepted"] == 2 and summary["processing"]["processed"] == 2
    assert set(Event.objects.values_list("source", "application_id")) == {("cli", None)}
    again, _ = run("send", str(path))
    assert again["duplicate"] == 2


def test_an_unknown_key_or_file_stops_the_command(tmp_path, purchase):
    path = tmp_path / "e.jsonl"
    path.write_text("{}\n")
    with pytest.raises(CommandError):
        run("send", str(path), "--app-key", "sha_nope")
    with pytest.raises(CommandError):
        run("send", str(tmp_path / "missing.jsonl"))
