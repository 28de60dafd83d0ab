"""The task center's services and selectors: create and change tasks, who may be the owner, the data scope of
each persona, done and reopened, batch changes, the grouped views at the day boundary in the user's time zone."""

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shoal.core.errors import NotFound, ShoalError
from shoal.core.models import OperationLog
from shoal.core.oplog import ACTION_LABELS
from shoal.sales import selectors_tasks as reads
from shoal.sales.models import Task, TaskPriority, TaskProgress, TaskType
from shoal.sales.services import open_task_counts, task_list
from shoal.sales.services import tasks as services
from tests.sales.tasks_people import make_team

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")



@pytest.fixture
def team(db, roles):
    return make_team(roles)

def _task(actor, **kw):
    kw.setdefault("name", "Call back")
    return services.task_create(actor=actor, **kw)


# -- create ------------------------------------------------------------------------------------------------
def test_a_task_without_owner_belongs_to_its_creator_and_speaks_priority_codes(team):
    task = _task(team["owner"], priority="urgent", details="bring the quote")
    assert task.owner_id == task.creator_id == team["owner"].pk
    assert task.priority == TaskPriority.URGENT and task.priority_code == "urgent"
    assert task.progress == TaskProgress.NOT_STARTED and task.done_at is None
    entry = OperationLog.objects.get(action="task.create")
    assert entry.object_type == "task" and entry.object_id == str(task.pk)


def test_a_follow_up_task_needs_a_customer(team):
    with pytest.raises(ShoalError) as err:
        _task(team["owner"], type="follow_up")
    assert err.value.status == 400 and err.value.detail["field"] == "customer_id"
    task = _task(team["owner"], type="follow_up", customer_id=team["mine"].pk)
    assert task.type == TaskType.FOLLOW_UP and task.group_id == team["group"].pk  # where the owner holds it


def test_a_linked_customer_must_be_in_the_creators_scope(team):
    with pytest.raises(NotFound):
        _task(team["owner"], customer_id=team["theirs"].pk)
    assert not Task.objects.exists()
    assert _task(team["owner"], customer_id=team["mine"].pk).customer_id == team["mine"].pk


def test_a_task_has_a_name(team):
    with pytest.raises(ShoalError) as err:
        _task(team["owner"], name="   ")
    assert err.value.detail["field"] == "name"


def test_unknown_priority_or_progress_is_refused(team):
    for kw, field in (({"priority": "asap"}, "priority"), ({"progress": "later"}, "progress"),
                      ({"type": "chore"}, "type")):
        with pytest.raises(ShoalError) as err:
            _task(team["owner"], **kw)
        assert err.value.detail["field"] == field


def test_a_naive_deadline_is_read_in_the_users_time_zone(team):
    task = _task(team["owner"], due_at=datetime(2026, 3, 1, 18, 0))
    assert task.due_at == datetime(2026, 3, 1, 10, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))


# -- who may be the owner ----------------------------------------------------------------------------
def test_a_salesperson_may_assign_to_people_of_their_department(team):
    assert _task(team["owner"], owner_id=team["colleague"].pk).owner_id == team["colleague"].pk


def test_assigning_outside_ones_departments_and_groups_is_refused(team):
    with pytest.raises(ShoalError) as err:
        _task(team["owner"], owner_id=team["outsider"].pk)
    assert err.value.status == 403 and err.value.code == "owner_not_allowed"
    with pytest.raises(ShoalError):
        _task(team["owner"], owner_id=999999)  # no such user: the same refusal


def test_a_group_admin_may_assign_to_the_groups_salespeople_and_a_manager_to_the_department(team):
    assert _task(team["lead"], owner_id=team["grouped"].pk).owner_id == team["grouped"].pk
    assert _task(team["manager"], owner_id=team["owner"].pk).owner_id == team["owner"].pk  # a department below
    with pytest.raises(ShoalError):
        _task(team["lead"], owner_id=team["colleague"].pk)  # not in the lead's groups
    assert _task(team["admin"], owner_id=team["outsider"].pk).owner_id == team["outsider"].pk  # scope "all"


def test_a_disabled_user_is_no_owner(team):
    team["colleague"].is_active = False
    team["colleague"].save()
    with pytest.raises(ShoalError):
        _task(team["owner"], owner_id=team["colleague"].pk)


# -- scope -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("persona, sees", [
    ("owner", True), ("creator", True), ("manager", True), ("lead", True), ("admin", True), ("outsider", False),
])
def test_each_persona_sees_the_tasks_of_its_scope(team, persona, sees):
    task = _task(team["colleague"], owner_id=team["owner"].pk)  # the colleague creates, the owner owns
    actor = team["colleague" if persona == "creator" else persona]
    if sees:
        assert reads.task_get(actor=actor, pk=task.pk).pk == task.pk
    else:
        with pytest.raises(NotFound):
            reads.task_get(actor=actor, pk=task.pk)
        with pytest.raises(NotFound):
            services.task_update(actor=actor, task=task, data={"progress": "done"})


def test_a_group_admin_sees_the_groups_tasks_but_not_a_department_colleagues(team):
    grouped = _task(team["grouped"])
    colleague = _task(team["colleague"])
    assert set(reads.task_queryset(actor=team["lead"]).values_list("pk", flat=True)) == {grouped.pk}
    assert colleague.pk in reads.task_queryset(actor=team["manager"]).values_list("pk", flat=True)


def test_the_views_mine_and_created(team):
    given = _task(team["colleague"], owner_id=team["owner"].pk)
    own = _task(team["owner"])
    mine = reads.task_search(actor=team["owner"], where=reads.TaskFilter(view="mine"))
    created = reads.task_search(actor=team["owner"], where=reads.TaskFilter(view="created"))
    assert {t.pk for t in mine} == {given.pk, own.pk}
    assert {t.pk for t in created} == {own.pk}
    assert {t.pk for t in reads.task_search(actor=team["colleague"], where=reads.TaskFilter(view="created"))} == {given.pk}


def test_filters_and_search(team):
    a = _task(team["owner"], name="Quote for Zhang", priority="high", due_at=datetime(2026, 3, 2, 9, 0))
    _task(team["owner"], name="Visit", priority="low", progress="done")
    search = lambda **kw: {t.pk for t in reads.task_search(actor=team["owner"], where=reads.TaskFilter(**kw))}  # noqa: E731
    assert search(q="quote") == {a.pk}
    assert search(priority="high") == {a.pk}
    assert search(progress="open") == {a.pk}
    assert search(due_after=datetime(2026, 3, 2), due_before=datetime(2026, 3, 3)) == {a.pk}
    assert search(due_before=datetime(2026, 3, 2)) == set()
    with pytest.raises(ShoalError):
        search(view="everything")


def test_without_the_permission_nothing_is_read_or_written(team, personas):
    with pytest.raises(ShoalError) as err:
        _task(personas["norole"])
    assert err.value.status == 403
    with pytest.raises(ShoalError):
        reads.task_queryset(actor=personas["norole"])


# -- change, done and reopened -----------------------------------------------------------------------------
def test_done_sets_done_at_and_reopening_clears_it(team):
    task = _task(team["owner"], type="follow_up", customer_id=team["mine"].pk)
    done = services.task_update(actor=team["owner"], task=task, data={"progress": "done"})
    assert done.progress == "done" and done.done_at is not None
    assert done.customer_id is not None  # marking a follow-up task done keeps it a follow-up task
    from shoal.sales.models import FollowUp

    assert not FollowUp.objects.exists()  # and records no follow-up
    reopened = services.task_update(actor=team["owner"], task=done, data={"progress": "in_progress"})
    assert reopened.done_at is None
    entry = OperationLog.objects.filter(action="task.update").latest("id")
    assert entry.detail["changes"]["progress"] == ["done", "in_progress"]


def test_a_new_reminder_time_is_reminded_again(team):
    task = _task(team["owner"], remind_at=datetime(2026, 3, 1, 9, 0))
    Task.objects.filter(pk=task.pk).update(reminded_at=datetime(2026, 3, 1, 1, 0, tzinfo=SHANGHAI))
    task = services.task_update(actor=team["owner"], task=task, data={"remind_at": datetime(2026, 3, 2, 9, 0)})
    assert task.reminded_at is None


def test_changing_nothing_logs_nothing(team):
    task = _task(team["owner"], priority="high")
    services.task_update(actor=team["owner"], task=task, data={"priority": "high"})
    assert not OperationLog.objects.filter(action="task.update").exists()


def test_changing_the_owner_checks_who_may_be_assigned(team):
    task = _task(team["owner"])
    with pytest.raises(ShoalError):
        services.task_update(actor=team["owner"], task=task, data={"owner_id": team["outsider"].pk})
    moved = services.task_update(actor=team["owner"], task=task, data={"owner_id": team["colleague"].pk})
    assert moved.owner_id == team["colleague"].pk


def test_only_the_creator_or_a_manager_deletes(team):
    task = _task(team["colleague"], owner_id=team["owner"].pk)
    with pytest.raises(ShoalError) as err:
        services.task_delete(actor=team["owner"], task=task)
    assert err.value.status == 403
    services.task_delete(actor=team["manager"], task=task)
    assert not Task.objects.filter(pk=task.pk).exists()
    assert OperationLog.objects.filter(action="task.delete", object_id=str(task.pk)).exists()


def test_every_task_action_has_a_label():
    for action in ("task.create", "task.update", "task.delete", "task.batch_update"):
        assert action in ACTION_LABELS


# -- batch ---------------------------------------------------------------------------------------------------
def test_batch_changes_owner_priority_progress_and_deadline_in_one_go(team):
    a, b = _task(team["owner"], priority="low"), _task(team["owner"], priority="high")
    due = datetime(2026, 4, 1, 18, 0, tzinfo=SHANGHAI)
    changed = services.task_batch_update(actor=team["owner"], ids=[a.pk, b.pk],
                                         changes={"priority": "high", "progress": "done", "due_at": due,
                                                  "owner_id": team["colleague"].pk})
    assert changed == 2
    for task in Task.objects.filter(pk__in=[a.pk, b.pk]):
        assert (task.priority, task.progress, task.due_at, task.owner_id) == (3, "done", due, team["colleague"].pk)
        assert task.done_at is not None
    assert services.task_batch_update(actor=team["owner"], ids=[a.pk, b.pk], changes={"priority": "high"}) == 0
    assert OperationLog.objects.filter(action="task.batch_update").count() == 2


def test_batch_counts_only_tasks_that_change_and_keeps_done_at(team):
    a, b = _task(team["owner"]), _task(team["owner"])
    first = services.task_update(actor=team["owner"], task=a, data={"progress": "done"}).done_at
    assert services.task_batch_update(actor=team["owner"], ids=[a.pk, b.pk], changes={"progress": "done"}) == 1
    assert Task.objects.get(pk=a.pk).done_at == first
    assert services.task_batch_update(actor=team["owner"], ids=[a.pk], changes={"progress": "not_started"}) == 1
    assert Task.objects.get(pk=a.pk).done_at is None


def test_batch_with_a_task_outside_the_scope_changes_nothing(team):
    mine, theirs = _task(team["owner"]), _task(team["outsider"])
    with pytest.raises(NotFound) as err:
        services.task_batch_update(actor=team["owner"], ids=[mine.pk, theirs.pk], changes={"priority": "urgent"})
    assert err.value.detail["ids"] == [theirs.pk]
    assert Task.objects.get(pk=mine.pk).priority == TaskPriority.MEDIUM


def test_batch_refuses_fields_it_does_not_change(team):
    task = _task(team["owner"])
    with pytest.raises(ShoalError):
        services.task_batch_update(actor=team["owner"], ids=[task.pk], changes={"name": "x"})
    with pytest.raises(ShoalError):
        services.task_batch_update(actor=team["owner"], ids=[task.pk], changes={})


# -- grouped views -------------------------------------------------------------------------------------------
def _at(day, hour, minute=0):
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


def _groups(actor, now, group_by="date"):
    qs = reads.task_search(actor=actor, where=reads.TaskFilter(view="mine"))
    bounds = reads.DayBounds.at(now=now, tz=SHANGHAI)
    return {g["key"]: {t.name for t in g["items"]} for g in reads.task_groups(actor=actor, qs=qs, group_by=group_by,
                                                                              bounds=bounds)}


def test_date_groups_at_the_day_boundary_in_shanghai(team):
    # Wednesday 2026-03-04; the week ends on Sunday 03-08
    owner = team["owner"]
    for name, due in (("late tonight", _at(4, 23, 50)), ("just after midnight", _at(5, 0, 10)),
                      ("thursday noon", _at(5, 12)), ("friday", _at(6, 12)), ("sunday night", _at(8, 23, 0)),
                      ("next monday", _at(9, 9)), ("yesterday", _at(3, 9))):
        _task(owner, name=name, due_at=due)
    _task(owner, name="someday")
    _task(owner, name="finished", due_at=_at(4, 23, 55), progress="done")
    before = _groups(owner, _at(4, 23, 30))  # 23:30 in Shanghai (15:30 UTC, the same UTC day)
    assert before == {"overdue": {"yesterday"}, "today": {"late tonight"},
                      "tomorrow": {"just after midnight", "thursday noon"}, "this_week": {"friday", "sunday night"},
                      "later": {"next monday"}, "none": {"someday"}}
    after = _groups(owner, _at(5, 0, 30))  # 00:30 the next day (16:30 UTC, still the 4th in UTC)
    assert after == {"overdue": {"yesterday", "late tonight", "just after midnight"}, "today": {"thursday noon"},
                     "tomorrow": {"friday"}, "this_week": {"sunday night"}, "later": {"next monday"},
                     "none": {"someday"}}


def test_on_sunday_this_week_is_empty_and_monday_is_tomorrow(team):
    _task(team["owner"], name="monday", due_at=_at(9, 10))
    _task(team["owner"], name="tuesday", due_at=_at(10, 10))
    groups = _groups(team["owner"], _at(8, 20))
    assert groups["tomorrow"] == {"monday"} and groups["this_week"] == set() and groups["later"] == {"tuesday"}


def test_group_counts_are_full_counts_and_items_are_capped(team):
    for i in range(7):
        _task(team["owner"], name=f"t{i}", due_at=_at(4, 22))
    qs = reads.task_search(actor=team["owner"], where=reads.TaskFilter(view="mine"))
    groups = reads.task_groups(actor=team["owner"], qs=qs, group_by="date", limit=5,
                               bounds=reads.DayBounds.at(now=_at(4, 10), tz=SHANGHAI))
    today = next(g for g in groups if g["key"] == "today")
    assert today["count"] == 7 and len(today["items"]) == 5 and today["label"]


def test_progress_groups_hold_every_task_and_priority_groups_the_open_ones(team):
    _task(team["owner"], name="open urgent", priority="urgent")
    _task(team["owner"], name="done urgent", priority="urgent", progress="done")
    _task(team["owner"], name="cancelled", progress="cancelled")
    by_progress = _groups(team["owner"], _at(4, 10), "progress")
    assert by_progress == {"not_started": {"open urgent"}, "in_progress": set(), "done": {"done urgent"},
                           "cancelled": {"cancelled"}}
    by_priority = _groups(team["owner"], _at(4, 10), "priority")
    assert list(by_priority) == ["urgent", "high", "medium", "low"]
    assert by_priority["urgent"] == {"open urgent"}


def test_drop_deadlines(team):
    bounds = reads.DayBounds.at(now=_at(4, 10), tz=SHANGHAI)
    assert bounds.drop_deadline("today", None) == _at(4, 23, 59).replace(second=59)
    assert bounds.drop_deadline("tomorrow", None) == _at(5, 23, 59).replace(second=59)
    assert bounds.drop_deadline("this_week", None) == _at(8, 23, 59).replace(second=59)
    assert bounds.drop_deadline("none", _at(4, 12)) is None
    far = _at(20, 9)
    assert bounds.drop_deadline("later", far) == far  # already later: kept
    assert bounds.drop_deadline("later", _at(4, 12)) == _at(9, 23, 59).replace(second=59)  # the first later day
    assert bounds.drop_deadline("later", None, day=_at(12, 0).date()) == _at(12, 23, 59).replace(second=59)
    with pytest.raises(ShoalError):
        bounds.drop_deadline("later", None, day=_at(6, 0).date())
    with pytest.raises(ShoalError):
        bounds.drop_deadline("overdue", None)


def test_moving_a_task_changes_the_groups_field(team):
    task = _task(team["owner"])
    assert services.task_move(actor=team["owner"], task=task, group_by="progress", key="in_progress").progress == "in_progress"
    assert services.task_move(actor=team["owner"], task=task, group_by="priority", key="urgent").priority == 4
    moved = services.task_move(actor=team["owner"], task=task, group_by="date", key="today")
    assert moved.due_at is not None
    assert services.task_move(actor=team["owner"], task=task, group_by="date", key="none").due_at is None
    with pytest.raises(ShoalError):
        services.task_move(actor=team["owner"], task=task, group_by="date", key="overdue")


def test_grouped_view_reads_a_fixed_number_of_queries(team):
    for i in range(30):
        _task(team["owner"], name=f"t{i}", customer_id=team["mine"].pk, due_at=_at(4 + i % 6, 12),
              priority=["low", "medium", "high", "urgent"][i % 4])
    qs = reads.task_search(actor=team["owner"], where=reads.TaskFilter(view="mine"))
    with CaptureQueriesContext(connection) as few:
        groups = reads.task_groups(actor=team["owner"], qs=qs, group_by="date")
        reads.task_rows([t for g in groups for t in g["items"]], actor=team["owner"])
    assert len(few) <= 16  # counts, one read a group, the customers (scoped, masked): never one a task


# -- what the pools and the other helpers rely on --------------------------------------------------------
def test_task_list_and_open_task_counts_still_read_follow_up_tasks(team):
    task = _task(team["owner"], type="follow_up", customer_id=team["mine"].pk)
    _task(team["owner"])
    assert [t.pk for t in task_list(actor=team["owner"])] == [task.pk]
    assert open_task_counts([team["owner"].pk]) == {team["owner"].pk: 1}


def test_task_rows_mask_the_customer(team):
    task = _task(team["owner"], customer_id=team["mine"].pk, due_at=datetime.now(SHANGHAI) - timedelta(hours=1))
    row = reads.task_rows([task], actor=team["owner"])[0]
    assert row["customer"] == {"id": team["mine"].pk, "name": "Zhang San", "mobile": "138****8000"}
    assert row["priority"] == "medium" and row["overdue"] is True
    # an owner who does not see the linked customer gets its id alone
    given = _task(team["admin"], owner_id=team["owner"].pk, customer_id=team["theirs"].pk)
    row = reads.task_rows([given], actor=team["owner"])[0]
    assert row["customer_id"] == team["theirs"].pk and row["customer"] is None
