"""Every API endpoint and every page × roles (admin, manager, salesperson, no role):
only what is granted succeeds; the rest answers 403 (API) or 403/redirect (pages)."""

import json

import pytest
from django.urls import reverse

from shoal.accounts.models import Application, Department, Role, User
from shoal.api import api
from shoal.customers import services as customer_services
from shoal.customers.models import Company, CustomerGroup, CustomerGroupMembership
from tests.conftest import PERSONAS, make_user


@pytest.fixture
def matrix(db, personas):
    dept = Department.objects.create(name="Matrix dept")
    role = Role.objects.create(name="Matrix role", code="matrix")
    target = make_user("matrix_target")
    app = Application(name="Matrix app")
    app.set_new_key()
    app.save()
    # a customer in a group the manager administers, in the salesperson's private sea
    customer = customer_services.customer_create(actor=None, data={"name": "Matrix customer",
                                                                   "mobile": "13800138000"})
    group = CustomerGroup.objects.create(name="Matrix group")
    group.admins.add(personas["manager"])
    CustomerGroupMembership.objects.create(customer=customer, group=group, salesperson=personas["salesperson"])
    field = customer_services.custom_field_create(actor=None, key="matrix_field", label="Matrix", type="text")
    enum = customer_services.enum_group_create(actor=None, code="matrix", name="Matrix",
                                               items=[{"code": "a", "label": "A"}])
    company = Company.objects.create(name="Matrix company")
    from shoal.segments.models import SavedQuery

    saved = {u.pk: SavedQuery.objects.create(name="matrix", owner=u, query={"field": "city", "op": "is_empty"})
             for u in personas.values()}  # each persona edits its own
    from shoal.tags import services as tag_services
    from shoal.tags.models import TagCategory

    tag_category = TagCategory.objects.create(name="Matrix tags")
    empty_category = TagCategory.objects.create(name="Matrix empty")
    manual = tag_services.tag_create(actor=None, data={"name": "Matrix manual", "category_id": tag_category.pk})
    auto = tag_services.tag_create(actor=None, data={"name": "Matrix auto", "category_id": tag_category.pk,
                                                     "kind": "auto"})
    rule = tag_services.rule_create(actor=None, tag=auto, data={"query": {"field": "city", "op": "is_empty"}})
    from shoal.schedules import services as schedules

    job = schedules.job_get("system.clear_expired_sessions")
    runs = {u.pk: schedules.run_now(job=job, actor=u) for u in personas.values()}  # each persona reads its own
    from shoal.imports.models import ImportRun
    from shoal.imports.services import import_dir

    imports = {}  # each persona reads its own import and its error report
    for u in personas.values():
        (import_dir() / f"matrix-{u.pk}-errors.csv").write_text("\ufeffRow,Column,Value,Reason\n", encoding="utf-8")
        imports[u.pk] = ImportRun.objects.create(user=u, file_name="matrix.csv", status="succeeded",
                                                 errors_name=f"matrix-{u.pk}-errors.csv", errors_count=1)
    # pools: groups and their rules (helper "groups"); an empty group each test may delete
    from shoal.pools.services import rules as pool_rules

    empty_group = CustomerGroup.objects.create(name="Matrix empty group")
    assignment_rule = pool_rules.assignment_rule_create(actor=None, group=group, data={"name": "m", "sql": "city = 'x'"})
    recycle_rule = pool_rules.recycle_rule_create(actor=None, group=group, data={"name": "m", "sql": "city = 'x'"})
    group_rule = pool_rules.group_rule_create(actor=None, data={"name": "m", "sql": "city = 'x'",
                                                                "target_group_id": group.pk})
    # in-site messages (helper "messages"): one sent to every persona, one draft of the system
    from shoal.sales.services import messages as message_services

    message = message_services.message_create_and_send(actor=None, data={
        "title": "Matrix message", "user_ids": [u.pk for u in personas.values()]})
    # tasks: one task of each persona (its owner and creator)
    from shoal.sales.models import Task

    tasks = {u.pk: Task.objects.create(name="Matrix task", owner=u, creator=u) for u in personas.values()}
    # events: a type, one recorded event, the application's publishable key (helper "events")
    from shoal.accounts import services as account_services
    from shoal.events.services import types as event_types
    from shoal.events.services.ingest import Caller, ingest

    event_type = event_types.event_type_create(actor=None, data={"name": "Matrix event", "code": "matrix_event"})
    ingest(caller=Caller(application=app), items=[{"event": "matrix_event", "customer": {"mobile": "13800138000"}}])
    from shoal.events.models import Event

    account_services.application_publishable_key(actor=None, app=app)
    # automation: a custom processor and a message template (helper "delivery")
    from shoal.automation import services as automation_services

    processor, _secret = automation_services.processor_create(actor=None, data={"name": "Matrix hook",
                                                                                "url": "https://example.com/hook"})
    template = automation_services.template_create(actor=None, data={"channel": "sms", "name": "Matrix",
                                                                     "code": "matrix", "content": "x"})
    return {"event_type": event_type, "event": Event.objects.get(), "processor": processor,
            "message_template": template, "message": message, "tasks": tasks, "group": group, "empty_group": empty_group, "assignment_rule": assignment_rule,
            "recycle_rule": recycle_rule, "group_rule": group_rule,
            "dept": dept, "role": role, "target": target, "app": app, "customer": customer, "field": field,
            "enum": enum, "item": enum.items.get(), "company": company, "saved": saved,
            "tag_category": tag_category, "empty_category": empty_category, "manual": manual, "auto": auto,
            "rule": rule, "runs": runs, "imports": imports}


# (method, OpenAPI path, permission or None for "any user", body builder, path params builder)
ENDPOINTS = [
    ("get", "/api/v1/me", None, None, None),
    ("get", "/api/v1/departments", "system.departments.view", None, None),
    ("post", "/api/v1/departments", "system.departments.create", lambda w: {"name": "New dept"}, None),
    ("get", "/api/v1/departments/{dept_id}", "system.departments.view", None, lambda w: {"dept_id": w["dept"].pk}),
    ("patch", "/api/v1/departments/{dept_id}", "system.departments.edit", lambda w: {"name": "Renamed"},
     lambda w: {"dept_id": w["dept"].pk}),
    ("delete", "/api/v1/departments/{dept_id}", "system.departments.delete", None,
     lambda w: {"dept_id": w["dept"].pk}),
    ("get", "/api/v1/roles", "system.roles.view", None, None),
    ("get", "/api/v1/permissions", "system.roles.view", None, None),
    ("post", "/api/v1/roles", "system.roles.create",
     lambda w: {"name": "R2", "code": "r2", "permissions": ["system.users.view"]}, None),
    ("get", "/api/v1/roles/{role_id}", "system.roles.view", None, lambda w: {"role_id": w["role"].pk}),
    ("patch", "/api/v1/roles/{role_id}", "system.roles.edit", lambda w: {"data_scope": "all"},
     lambda w: {"role_id": w["role"].pk}),
    ("delete", "/api/v1/roles/{role_id}", "system.roles.delete", None, lambda w: {"role_id": w["role"].pk}),
    ("get", "/api/v1/users", "system.users.view", None, None),
    ("post", "/api/v1/users", "system.users.create", lambda w: {"username": "newbie"}, None),
    ("get", "/api/v1/users/{user_id}", "system.users.view", None, lambda w: {"user_id": w["target"].pk}),
    ("get", "/api/v1/users/{user_id}/permissions", "system.users.view", None,
     lambda w: {"user_id": w["target"].pk}),
    ("patch", "/api/v1/users/{user_id}", "system.users.edit", lambda w: {"name": "Renamed"},
     lambda w: {"user_id": w["target"].pk}),
    ("delete", "/api/v1/users/{user_id}", "system.users.delete", None, lambda w: {"user_id": w["target"].pk}),
    ("post", "/api/v1/users/reset-password", "system.users.reset_password",
     lambda w: {"ids": [w["target"].pk]}, None),
    ("get", "/api/v1/applications", "system.applications.view", None, None),
    ("post", "/api/v1/applications", "system.applications.create", lambda w: {"name": "ERP"}, None),
    ("get", "/api/v1/applications/{app_id}", "system.applications.view", None, lambda w: {"app_id": w["app"].pk}),
    ("patch", "/api/v1/applications/{app_id}", "system.applications.edit", lambda w: {"enabled": False},
     lambda w: {"app_id": w["app"].pk}),
    ("post", "/api/v1/applications/{app_id}/rotate-key", "system.applications.edit", None,
     lambda w: {"app_id": w["app"].pk}),
    ("delete", "/api/v1/applications/{app_id}", "system.applications.delete", None,
     lambda w: {"app_id": w["app"].pk}),
    ("get", "/api/v1/parameters", "system.parameters.view", None, None),
    ("patch", "/api/v1/parameters/{code}", "system.parameters.edit", lambda w: {"value": "654321"},
     lambda w: {"code": "SYS_USER_DEFAULT_PASSWORD"}),
    ("get", "/api/v1/operation-log", "system.operation_log.view", None, None),
    ("get", "/api/v1/jobs", "system.schedules.view", None, None),
    ("get", "/api/v1/jobs/{run_id}", None, None, lambda w: {"run_id": w["runs"][w["me"].pk].pk}),
    ("patch", "/api/v1/jobs/{name}", "system.schedules.edit", lambda w: {"cron": "0 1 * * *"},
     lambda w: {"name": "system.clear_expired_sessions"}),
    ("post", "/api/v1/jobs/{name}/run", "system.schedules.run", None,
     lambda w: {"name": "system.clear_expired_sessions"}),
    ("get", "/api/v1/jobs/{name}/runs", "system.schedules.view", None,
     lambda w: {"name": "system.clear_expired_sessions"}),
    ("post", "/api/v1/customers/identify", "customers.customers.create", lambda w: {"mobile": "13911112222"}, None),
    ("post", "/api/v1/customers/identify/batch", "customers.customers.create",
     lambda w: {"customers": [{"ent_user_id": "matrix-1"}]}, None),
    ("get", "/api/v1/customers", "customers.customers.view", None, None),
    ("post", "/api/v1/customers", "customers.customers.create", lambda w: {"ent_user_id": "matrix-2"}, None),
    ("post", "/api/v1/customers/status", "customers.customers.edit",
     lambda w: {"ids": [w["customer"].pk], "status": "banned"}, None),
    ("get", "/api/v1/customers/{customer_id}", "customers.customers.view", None,
     lambda w: {"customer_id": w["customer"].pk}),
    ("patch", "/api/v1/customers/{customer_id}", "customers.customers.edit", lambda w: {"name": "Renamed"},
     lambda w: {"customer_id": w["customer"].pk}),
    ("delete", "/api/v1/customers/{customer_id}", "customers.customers.delete", None,
     lambda w: {"customer_id": w["customer"].pk}),
    ("get", "/api/v1/customers/{customer_id}/timeline", "customers.customers.view", None,
     lambda w: {"customer_id": w["customer"].pk}),
    ("get", "/api/v1/fields", "system.fields.view", None, None),
    ("post", "/api/v1/fields", "system.fields.create", lambda w: {"label": "New field", "type": "integer"}, None),
    ("get", "/api/v1/fields/{field_id}", "system.fields.view", None, lambda w: {"field_id": w["field"].pk}),
    ("patch", "/api/v1/fields/{field_id}", "system.fields.edit", lambda w: {"label": "Renamed"},
     lambda w: {"field_id": w["field"].pk}),
    ("delete", "/api/v1/fields/{field_id}", "system.fields.delete", None, lambda w: {"field_id": w["field"].pk}),
    ("get", "/api/v1/enums", "system.enums.view", None, None),
    ("post", "/api/v1/enums", "system.enums.create", lambda w: {"code": "matrix2", "name": "Matrix 2"}, None),
    ("get", "/api/v1/enums/{group_id}", "system.enums.view", None, lambda w: {"group_id": w["enum"].pk}),
    ("patch", "/api/v1/enums/{group_id}", "system.enums.edit", lambda w: {"name": "Renamed"},
     lambda w: {"group_id": w["enum"].pk}),
    ("delete", "/api/v1/enums/{group_id}", "system.enums.delete", None, lambda w: {"group_id": w["enum"].pk}),
    ("post", "/api/v1/enums/{group_id}/items", "system.enums.edit", lambda w: {"code": "b", "label": "B"},
     lambda w: {"group_id": w["enum"].pk}),
    ("patch", "/api/v1/enums/{group_id}/items/{item_id}", "system.enums.edit", lambda w: {"label": "AA"},
     lambda w: {"group_id": w["enum"].pk, "item_id": w["item"].pk}),
    ("delete", "/api/v1/enums/{group_id}/items/{item_id}", "system.enums.edit", None,
     lambda w: {"group_id": w["enum"].pk, "item_id": w["item"].pk}),
    ("get", "/api/v1/companies", "customers.companies.view", None, None),
    ("post", "/api/v1/companies", "customers.companies.create", lambda w: {"name": "New company"}, None),
    ("get", "/api/v1/companies/{company_id}", "customers.companies.view", None,
     lambda w: {"company_id": w["company"].pk}),
    ("patch", "/api/v1/companies/{company_id}", "customers.companies.edit", lambda w: {"city": "Wuhan"},
     lambda w: {"company_id": w["company"].pk}),
    ("delete", "/api/v1/companies/{company_id}", "customers.companies.delete", None,
     lambda w: {"company_id": w["company"].pk}),
]
SEGMENT_ENDPOINTS = [
    ("post", "/api/v1/customers/search", "customers.customers.view",
     lambda w: {"query": {"field": "name", "op": "contains", "value": "a"}}, None),
    ("post", "/api/v1/segments/preview", "customers.customers.view", lambda w: {"sql": "city = 'x'"}, None),
    ("post", "/api/v1/segments/validate", "customers.customers.view",
     lambda w: {"query": {"field": "city", "op": "is_empty"}}, None),
    ("get", "/api/v1/segments/fields", "customers.customers.view", None, None),
    ("post", "/api/v1/segments/from-rows", "customers.customers.view",
     lambda w: {"rows": [{"field": "city", "op": "is_empty"}]}, None),
    ("get", "/api/v1/saved-queries", "customers.customers.view", None, None),
    ("post", "/api/v1/saved-queries", "customers.customers.view",
     lambda w: {"name": "mine", "query": {"field": "city", "op": "is_empty"}}, None),
    ("get", "/api/v1/saved-queries/{saved_id}", "customers.customers.view", None,
     lambda w: {"saved_id": w["saved"][w["me"].pk].pk}),
    ("patch", "/api/v1/saved-queries/{saved_id}", "customers.customers.view", lambda w: {"name": "renamed"},
     lambda w: {"saved_id": w["saved"][w["me"].pk].pk}),
    ("delete", "/api/v1/saved-queries/{saved_id}", "customers.customers.view", None,
     lambda w: {"saved_id": w["saved"][w["me"].pk].pk}),
]
ENDPOINTS += SEGMENT_ENDPOINTS
TAG_READ = ("customers.tags.view", "customers.customers.view")  # either suffices
TAG_ENDPOINTS = [
    ("get", "/api/v1/tag-categories", TAG_READ, None, None),
    ("post", "/api/v1/tag-categories", "customers.tags.create", lambda w: {"name": "New category"}, None),
    ("patch", "/api/v1/tag-categories/{category_id}", "customers.tags.edit", lambda w: {"name": "Renamed"},
     lambda w: {"category_id": w["empty_category"].pk}),
    ("delete", "/api/v1/tag-categories/{category_id}", "customers.tags.delete", None,
     lambda w: {"category_id": w["empty_category"].pk}),
    ("get", "/api/v1/tags", TAG_READ, None, None),
    ("post", "/api/v1/tags", "customers.tags.create",
     lambda w: {"name": "New tag", "category_id": w["tag_category"].pk, "kind": "manual"}, None),
    ("post", "/api/v1/tags/refresh", "customers.tags.run", lambda w: {"full": True}, None),
    ("get", "/api/v1/tags/{tag_id}", TAG_READ, None, lambda w: {"tag_id": w["manual"].pk}),
    ("patch", "/api/v1/tags/{tag_id}", "customers.tags.edit", lambda w: {"score": 3},
     lambda w: {"tag_id": w["manual"].pk}),
    ("delete", "/api/v1/tags/{tag_id}", "customers.tags.delete", None, lambda w: {"tag_id": w["manual"].pk}),
    ("post", "/api/v1/tags/{tag_id}/refresh", "customers.tags.run", lambda w: {}, lambda w: {"tag_id": w["auto"].pk}),
    ("get", "/api/v1/tags/{tag_id}/rules", TAG_READ, None, lambda w: {"tag_id": w["auto"].pk}),
    ("post", "/api/v1/tags/{tag_id}/rules", "customers.tags.create", lambda w: {"sql": "city = 'x'"},
     lambda w: {"tag_id": w["auto"].pk}),
    ("patch", "/api/v1/tags/{tag_id}/rules/{rule_id}", "customers.tags.edit", lambda w: {"sql": "city = 'y'"},
     lambda w: {"tag_id": w["auto"].pk, "rule_id": w["rule"].pk}),
    ("delete", "/api/v1/tags/{tag_id}/rules/{rule_id}", "customers.tags.delete", None,
     lambda w: {"tag_id": w["auto"].pk, "rule_id": w["rule"].pk}),
    ("post", "/api/v1/tags/{tag_id}/preview", "customers.customers.view",
     lambda w: {"query": {"field": "city", "op": "is_empty"}}, lambda w: {"tag_id": w["auto"].pk}),
    ("post", "/api/v1/tags/{tag_id}/apply", "customers.customers.tag", lambda w: {"customer_ids": [w["customer"].pk]},
     lambda w: {"tag_id": w["manual"].pk}),
    ("post", "/api/v1/tags/{tag_id}/remove", "customers.customers.tag", lambda w: {"customer_ids": [w["customer"].pk]},
     lambda w: {"tag_id": w["manual"].pk}),
    ("post", "/api/v1/customers/{customer_id}/tags", "customers.customers.tag", lambda w: {"tag_id": w["manual"].pk},
     lambda w: {"customer_id": w["customer"].pk}),
    ("delete", "/api/v1/customers/{customer_id}/tags/{tag_id}", "customers.customers.tag", None,
     lambda w: {"customer_id": w["customer"].pk, "tag_id": w["manual"].pk}),
    ("get", "/api/v1/tag-history", "customers.tags.view", None, None),
]
ENDPOINTS += TAG_ENDPOINTS
EXPORT_ENDPOINTS = [
    ("get", "/api/v1/exports", "customers.customers.export", None, None),
    ("get", "/api/v1/exports/fields", "customers.customers.export", None, None),
]
ENDPOINTS += EXPORT_ENDPOINTS


def _import_file(w):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {"file": SimpleUploadedFile("matrix.csv", "姓名,手机号\n张三,13800138001\n".encode(), content_type="text/csv")}


IMPORT = "customers.customers.import"
ENDPOINTS += [
    ("post", "/api/v1/imports", IMPORT, _import_file, None),
    ("post", "/api/v1/imports/preview", IMPORT, _import_file, None),
    ("get", "/api/v1/imports", IMPORT, None, None),
    ("get", "/api/v1/imports/{import_id}", IMPORT, None, lambda w: {"import_id": w["imports"][w["me"].pk].pk}),
    ("get", "/api/v1/imports/{import_id}/errors", IMPORT, None, lambda w: {"import_id": w["imports"][w["me"].pk].pk}),
]
def _request_body(w):
    """The caller made a salesperson of a group that lets its salespeople request customers."""
    w["group"].salespeople.add(w["me"])
    type(w["group"]).objects.filter(pk=w["group"].pk).update(request_tasks=True)
    return {"group_id": w["group"].pk}


# ops: manual operations, transfers, pool logs, follow-ups, tasks, notifications
ENDPOINTS += [
    ("post", "/api/v1/customers/batch", "pools.seas.return",
     lambda w: {"action": "return_to_group_sea", "customer_ids": [w["customer"].pk], "group_id": w["group"].pk}, None),
    ("post", "/api/v1/transfers", "pools.seas.transfer",
     lambda w: {"from_user_id": w["target"].pk, "to_user_id": w["me"].pk, "customer_ids": None, "reason": "x"}, None),
    ("get", "/api/v1/transfers", ("pools.seas.transfer", "pools.logs.view"), None, None),
    ("get", "/api/v1/group-log", "pools.logs.view", None, None),
    ("get", "/api/v1/assignment-log", "pools.logs.view", None, None),
    ("get", "/api/v1/recycle-log", "pools.logs.view", None, None),
    ("post", "/api/v1/follow-ups", "sales.follow_ups.create", lambda w: {"customer_id": w["customer"].pk}, None),
    ("get", "/api/v1/follow-ups", "sales.follow_ups.view", None, None),
    ("get", "/api/v1/follow-up-tasks", None, None, None),
    ("get", "/api/v1/notifications", None, None, None),
    ("post", "/api/v1/notifications/read", None, lambda w: {"all": True}, None),
    ("post", "/api/v1/pools/run", "pools.runs.run", lambda w: {"step": "group"}, None),
    ("post", "/api/v1/pools/request", "pools.seas.claim", lambda w: _request_body(w), None),
    # the follow-up workspace (helper "workspace")
    ("post", "/api/v1/follow-up-tasks/request", "pools.seas.claim", lambda w: _request_body(w), None),
]
# -- pools: groups and their rules (helper "groups")
GROUPS = "pools.groups"
GROUP_RULES = "pools.group_rules"
_g = lambda w: {"group_id": w["group"].pk}  # noqa: E731
ENDPOINTS += [
    ("get", "/api/v1/groups", f"{GROUPS}.view", None, None),
    ("post", "/api/v1/groups", f"{GROUPS}.create", lambda w: {"name": "Matrix new group"}, None),
    ("get", "/api/v1/groups/{group_id}", f"{GROUPS}.view", None, _g),
    ("patch", "/api/v1/groups/{group_id}", f"{GROUPS}.edit", lambda w: {"capacity": 5}, _g),
    ("delete", "/api/v1/groups/{group_id}", f"{GROUPS}.delete", None, lambda w: {"group_id": w["empty_group"].pk}),
    ("get", "/api/v1/groups/{group_id}/assignment-rules", f"{GROUPS}.view", None, _g),
    ("post", "/api/v1/groups/{group_id}/assignment-rules", f"{GROUPS}.edit",
     lambda w: {"name": "r", "sql": "city = 'y'"}, _g),
    ("patch", "/api/v1/groups/{group_id}/assignment-rules/{rule_id}", f"{GROUPS}.edit", lambda w: {"order": 2},
     lambda w: {"group_id": w["group"].pk, "rule_id": w["assignment_rule"].pk}),
    ("delete", "/api/v1/groups/{group_id}/assignment-rules/{rule_id}", f"{GROUPS}.edit", None,
     lambda w: {"group_id": w["group"].pk, "rule_id": w["assignment_rule"].pk}),
    ("get", "/api/v1/groups/{group_id}/recycle-rules", f"{GROUPS}.view", None, _g),
    ("post", "/api/v1/groups/{group_id}/recycle-rules", f"{GROUPS}.edit",
     lambda w: {"name": "r", "sql": "city = 'y'", "days": 3}, _g),
    ("patch", "/api/v1/groups/{group_id}/recycle-rules/{rule_id}", f"{GROUPS}.edit", lambda w: {"days": 9},
     lambda w: {"group_id": w["group"].pk, "rule_id": w["recycle_rule"].pk}),
    ("delete", "/api/v1/groups/{group_id}/recycle-rules/{rule_id}", f"{GROUPS}.edit", None,
     lambda w: {"group_id": w["group"].pk, "rule_id": w["recycle_rule"].pk}),
    ("get", "/api/v1/group-rules", f"{GROUP_RULES}.view", None, None),
    ("post", "/api/v1/group-rules", f"{GROUP_RULES}.create",
     lambda w: {"name": "r", "sql": "city = 'y'", "target_group_id": w["group"].pk}, None),
    ("get", "/api/v1/group-rules/{rule_id}", f"{GROUP_RULES}.view", None, lambda w: {"rule_id": w["group_rule"].pk}),
    ("patch", "/api/v1/group-rules/{rule_id}", f"{GROUP_RULES}.edit", lambda w: {"enabled": False},
     lambda w: {"rule_id": w["group_rule"].pk}),
    ("delete", "/api/v1/group-rules/{rule_id}", f"{GROUP_RULES}.delete", None,
     lambda w: {"rule_id": w["group_rule"].pk}),
]
# notifications and in-site messages (helper "messages")
_m = lambda w: {"message_id": w["message"].pk}  # noqa: E731
ENDPOINTS += [
    ("post", "/api/v1/messages", "sales.messages.send", lambda w: {"title": "Matrix", "user_ids": [w["target"].pk]},
     None),
    ("get", "/api/v1/messages", "sales.messages.view", None, None),
    ("get", "/api/v1/messages/{message_id}", "sales.messages.view", None, _m),
    ("get", "/api/v1/messages/{message_id}/receipts", "sales.messages.view", None, _m),
]
# workbench: every user has a workbench (its boards follow the user's permissions)
ENDPOINTS += [("get", "/api/v1/workbench", None, None, None)]
# tasks: the task center
TASKS = "sales.tasks"
_t = lambda w: {"task_id": w["tasks"][w["me"].pk].pk}  # noqa: E731
ENDPOINTS += [
    ("post", "/api/v1/tasks", f"{TASKS}.create", lambda w: {"name": "Matrix new task"}, None),
    ("get", "/api/v1/tasks", f"{TASKS}.view", None, None),
    ("post", "/api/v1/tasks/batch", f"{TASKS}.edit",
     lambda w: {"ids": [w["tasks"][w["me"].pk].pk], "set": {"priority": "high"}}, None),
    ("get", "/api/v1/tasks/{task_id}", f"{TASKS}.view", None, _t),
    ("patch", "/api/v1/tasks/{task_id}", f"{TASKS}.edit", lambda w: {"progress": "done"}, _t),
    ("delete", "/api/v1/tasks/{task_id}", f"{TASKS}.delete", None, _t),
]
# events (helper "events")
EVENT_TYPES = "marketing.event_types"
_t = lambda w: {"type_id": w["event_type"].pk}  # noqa: E731
_one_event = {"event": "matrix_event", "customer": {"mobile": "13800138000"}}
ENDPOINTS += [
    ("post", "/api/v1/applications/{app_id}/publishable-key", "system.applications.edit", lambda w: {"enabled": True},
     lambda w: {"app_id": w["app"].pk}),
    ("get", "/api/v1/event-types", f"{EVENT_TYPES}.view", None, None),
    ("post", "/api/v1/event-types", f"{EVENT_TYPES}.create", lambda w: {"code": "matrix_new", "name": "New"}, None),
    ("post", "/api/v1/event-types/copy", f"{EVENT_TYPES}.create", lambda w: {"ids": [w["event_type"].pk]}, None),
    ("post", "/api/v1/event-types/enable", f"{EVENT_TYPES}.edit",
     lambda w: {"ids": [w["event_type"].pk], "enabled": False}, None),
    ("post", "/api/v1/event-types/import-builtins", f"{EVENT_TYPES}.create", None, None),
    ("get", "/api/v1/event-types/{type_id}", f"{EVENT_TYPES}.view", None, _t),
    ("patch", "/api/v1/event-types/{type_id}", f"{EVENT_TYPES}.edit", lambda w: {"remarks": "x"}, _t),
    ("delete", "/api/v1/event-types/{type_id}", f"{EVENT_TYPES}.delete", None, _t),
    ("post", "/api/v1/events", "marketing.events.create", lambda w: _one_event, None),
    ("post", "/api/v1/events/batch", "marketing.events.create", lambda w: {"events": [_one_event]}, None),
    ("post", "/api/v1/events/collect", None, lambda w: {"key": w["app"].publishable_key, "events": []}, None),
    ("get", "/api/v1/event-history", "marketing.event_history.view", None, None),
    ("get", "/api/v1/event-history/{event_id}", "marketing.event_history.view", None,
     lambda w: {"event_id": w["event"].pk}),
    ("get", "/api/v1/customers/{customer_id}/events", "customers.customers.view", None,
     lambda w: {"customer_id": w["customer"].pk}),
]
# strategies: groups, strategies, review, results, tasks (made on first use by the endpoints below)
def _strategies(w):
    if "strategy" not in w:
        from shoal.strategies.models import StrategyTask
        from shoal.strategies.services import strategies as strategy_services

        w["strategy_group"] = strategy_services.group_create(actor=None, data={"name": "Matrix strategies"})
        data = {"name": "Matrix strategy", "event": "matrix_event", "actions": [{"processor": "task"}]}
        w["strategy"] = strategy_services.strategy_create(actor=None, data=data)
        w["strategy_task"] = StrategyTask.objects.create(
            strategy=w["strategy"], action=w["strategy"].actions.get(), event_id=1, customer_id=w["customer"].pk,
            event_received_at=w["customer"].created_at, due_at=w["customer"].created_at)
    return w


STRATEGIES = "marketing.strategies"
_s = lambda w: {"strategy_id": _strategies(w)["strategy"].pk}  # noqa: E731
_st = lambda w: {"task_id": _strategies(w)["strategy_task"].pk}  # noqa: E731
ENDPOINTS += [
    ("get", "/api/v1/strategy-groups", f"{STRATEGIES}.view", None, None),
    ("post", "/api/v1/strategy-groups", f"{STRATEGIES}.create", lambda w: {"name": "Matrix group 2"}, None),
    ("patch", "/api/v1/strategy-groups/{group_id}", f"{STRATEGIES}.edit", lambda w: {"order": 3},
     lambda w: {"group_id": _strategies(w)["strategy_group"].pk}),
    ("delete", "/api/v1/strategy-groups/{group_id}", f"{STRATEGIES}.delete", None,
     lambda w: {"group_id": _strategies(w)["strategy_group"].pk}),
    ("get", "/api/v1/strategies", f"{STRATEGIES}.view", None, None),
    ("post", "/api/v1/strategies", f"{STRATEGIES}.create",
     lambda w: {"name": "New", "event": "matrix_event", "actions": [{"processor": "task"}]}, None),
    ("get", "/api/v1/strategies/fields", f"{STRATEGIES}.view", None, None),
    ("get", "/api/v1/strategies/{strategy_id}", f"{STRATEGIES}.view", None, _s),
    ("patch", "/api/v1/strategies/{strategy_id}", f"{STRATEGIES}.edit", lambda w: {"order": 2}, _s),
    ("delete", "/api/v1/strategies/{strategy_id}", f"{STRATEGIES}.delete", None, _s),
    ("post", "/api/v1/strategies/{strategy_id}/approve", f"{STRATEGIES}.approve", None, _s),
    ("get", "/api/v1/strategies/{strategy_id}/results", f"{STRATEGIES}.view", None, _s),
    ("get", "/api/v1/strategy-tasks", "marketing.strategy_tasks.view", None, None),
    ("post", "/api/v1/strategy-tasks/cancel", "marketing.strategy_tasks.cancel",
     lambda w: {"ids": [_st(w)["task_id"]]}, None),
    ("post", "/api/v1/strategy-tasks/{task_id}/cancel", "marketing.strategy_tasks.cancel", None, _st),
]
# -- automation: processors and message templates (helper "delivery")
_proc = lambda w: {"processor_id": w["processor"].pk}  # noqa: E731
_tmpl = lambda w: {"template_id": w["message_template"].pk}  # noqa: E731
ENDPOINTS += [
    ("get", "/api/v1/processors", "marketing.processors.view", None, None),
    ("post", "/api/v1/processors", "marketing.processors.create",
     lambda w: {"name": "p", "url": "https://example.com/p", "method": "POST", "params": {}, "body": {},
                "headers": {}, "timeout": 10}, None),
    ("get", "/api/v1/processors/{processor_id}", "marketing.processors.view", None, _proc),
    ("patch", "/api/v1/processors/{processor_id}", "marketing.processors.edit", lambda w: {"timeout": 5}, _proc),
    ("delete", "/api/v1/processors/{processor_id}", "marketing.processors.delete", None, _proc),
    ("post", "/api/v1/processors/{processor_id}/secret", "marketing.processors.edit", None, _proc),
    ("get", "/api/v1/message-templates", "system.message_templates.view", None, None),
    ("post", "/api/v1/message-templates", "system.message_templates.create",
     lambda w: {"channel": "sms", "name": "n", "code": "n1", "content": "c"}, None),
    ("patch", "/api/v1/message-templates/{template_id}", "system.message_templates.edit",
     lambda w: {"name": "renamed"}, _tmpl),
    ("delete", "/api/v1/message-templates/{template_id}", "system.message_templates.delete", None, _tmpl),
]
APP_KEY_ENDPOINTS = {("get", "/api/v1/application")}


def test_matrix_covers_every_api_endpoint():
    schema = api.get_openapi_schema()
    documented = {(method, path) for path, ops in schema["paths"].items() for method in ops}
    covered = {(m, p) for m, p, *_ in ENDPOINTS} | APP_KEY_ENDPOINTS
    assert documented == covered


def _call(client, method, path, body, headers):
    kwargs = dict(headers)
    if body is not None and any(hasattr(value, "read") for value in body.values()):
        kwargs.update(data=body)  # a file upload: multipart
    elif body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(path, **kwargs)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e[0]} {e[1]}")
def test_api_endpoint_answers_only_what_the_role_grants(client, matrix, personas, bearer, endpoint, persona):
    method, path, perm, body, params = endpoint
    user = personas[persona]
    matrix["me"] = user
    url = path.format(**(params(matrix) if params else {}))
    response = _call(client, method, url, body(matrix) if body else None, bearer(user))
    granted = perm is None or any(user.has_shoal_perm(p) for p in ((perm,) if isinstance(perm, str) else perm))
    if granted:
        assert response.status_code < 300, (response.status_code, response.content)
    else:
        assert response.status_code == 403, (response.status_code, response.content)
        assert response.json()["error"]["code"] == "permission_denied"


def test_role_grants_match_the_roles_meaning(personas):
    assert personas["admin"].has_shoal_perm("system.users.create")
    assert personas["manager"].has_shoal_perm("system.users.view")
    assert not personas["manager"].has_shoal_perm("system.users.create")
    assert personas["salesperson"].has_shoal_perm("customers.customers.view")
    assert not personas["salesperson"].has_shoal_perm("system.users.view")
    assert personas["norole"].shoal_permissions() == frozenset()


def test_app_key_endpoint_needs_an_application_key(client, matrix, personas, bearer):
    response = client.get("/api/v1/application", **bearer(personas["admin"]))
    assert response.status_code == 401
    raw = matrix["app"].set_new_key()
    matrix["app"].save()
    assert client.get("/api/v1/application", HTTP_X_APP_KEY=raw).json()["name"] == "Matrix app"
    # an application key is not a user: it cannot call the user endpoints
    assert client.get("/api/v1/users", HTTP_X_APP_KEY=raw).status_code == 401


# -- pages -------------------------------------------------------------------------------------------
PAGES = [
    ("admin:accounts_department_changelist", "system.departments.view", None),
    ("admin:accounts_department_add", "system.departments.create", None),
    ("admin:accounts_department_change", "system.departments.view", lambda w: [w["dept"].pk]),
    ("admin:accounts_user_changelist", "system.users.view", None),
    ("admin:accounts_user_add", "system.users.create", None),
    ("admin:accounts_user_change", "system.users.view", lambda w: [w["target"].pk]),
    ("admin:user_permissions", "system.users.view", lambda w: [w["target"].pk]),
    ("admin:accounts_role_changelist", "system.roles.view", None),
    ("admin:accounts_role_add", "system.roles.create", None),
    ("admin:accounts_role_change", "system.roles.view", lambda w: [w["role"].pk]),
    ("admin:accounts_application_changelist", "system.applications.view", None),
    ("admin:accounts_application_add", "system.applications.create", None),
    ("admin:accounts_loginlog_changelist", "system.login_log.view", None),
    ("admin:core_operationlog_changelist", "system.operation_log.view", None),
    ("admin:parameters", "system.parameters.view", None),
    ("admin:schedules_scheduledjob_changelist", "system.schedules.view", None),
    ("admin:schedules_jobrun_changelist", "system.schedules.view", None),
    ("admin:customers_customer_changelist", "customers.customers.view", None),
    ("admin:customers_customer_add", "customers.customers.create", None),
    ("admin:customers_customer_change", "customers.customers.view", lambda w: [w["customer"].pk]),
    ("admin:customers_customfield_changelist", "system.fields.view", None),
    ("admin:customers_customfield_add", "system.fields.create", None),
    ("admin:customers_customfield_change", "system.fields.view", lambda w: [w["field"].pk]),
    ("admin:customers_enumgroup_changelist", "system.enums.view", None),
    ("admin:customers_enumgroup_change", "system.enums.view", lambda w: [w["enum"].pk]),
    ("admin:customers_company_changelist", "customers.companies.view", None),
    ("admin:customers_company_change", "customers.companies.view", lambda w: [w["company"].pk]),
    ("admin:segment_query", "customers.customers.view", None),
    ("admin:tags", "customers.tags.view", None),
    ("admin:tag_history", "customers.tags.view", None),
    ("admin:tag_add", "customers.tags.create", None),
    ("admin:index", None, None),
    ("admin:my_permissions", None, None),
    ("admin:my_tokens", None, None),
    ("admin:customer_identity", "system.identity.view", None),
    ("admin:customer_export", "customers.customers.export", None),
    ("admin:customer_import", "customers.customers.import", None),
    ("admin:customer_import_history", "customers.customers.import", None),
    ("admin:customer_import_template", "customers.customers.import", None),
    ("admin:customer_import_run", "customers.customers.import", lambda w: [w["imports"][w["me"].pk].pk]),
    ("admin:customer_import_status", "customers.customers.import", lambda w: [w["imports"][w["me"].pk].pk]),
    ("admin:customer_import_errors", "customers.customers.import", lambda w: [w["imports"][w["me"].pk].pk]),
    # pools pages (helper "pages")
    ("admin:pools_my_customers", "pools.seas.view", None),
    ("admin:pools_group_sea", "pools.seas.view", None),
    ("admin:pools_company_sea", "pools.seas.view", None),
    ("admin:pools_recycle_bin", "pools.seas.view", None),
    ("admin:pools_transfer", "pools.seas.transfer", None),
    ("admin:pools_transfers", "pools.logs.view", None),
    ("admin:pools_group_log", "pools.logs.view", None),
    ("admin:pools_assignment_log", "pools.logs.view", None),
    ("admin:pools_recycle_log", "pools.logs.view", None),
    # pools: groups and their rules (helper "groups")
    ("admin:pool_groups", "pools.groups.view", None),
    ("admin:pool_group_add", "pools.groups.create", None),
    ("admin:pool_group_edit", "pools.groups.view", lambda w: [w["group"].pk]),
    ("admin:pool_group_assignment", "pools.groups.view", lambda w: [w["group"].pk]),
    ("admin:pool_assignment_rule_edit", "pools.groups.view", lambda w: [w["group"].pk, w["assignment_rule"].pk]),
    ("admin:pool_group_recycle", "pools.groups.view", lambda w: [w["group"].pk]),
    ("admin:pool_recycle_rule_edit", "pools.groups.view", lambda w: [w["group"].pk, w["recycle_rule"].pk]),
    ("admin:pool_group_rules", "pools.group_rules.view", None),
    ("admin:pool_group_rule_edit", "pools.group_rules.view", lambda w: [w["group_rule"].pk]),
    # notifications and in-site messages (helper "messages"); the message was sent to every persona
    ("admin:notifications", None, None),
    ("admin:notifications_bell", None, None),
    ("admin:messages", "sales.messages.view", None),
    ("admin:message_add", "sales.messages.create", None),
    ("admin:message_receipts", "sales.messages.view", lambda w: [w["message"].pk]),
    ("admin:message_read", None, lambda w: [w["message"].pk]),
    # workbench: a board every user has, and the admin's defaults per role (工作台模块管理)
    ("admin:workbench_board", None, lambda w: ["accounts.my_info"]),
    ("admin:workbench_board", "system.users.view", lambda w: ["accounts.system"]),
    ("admin:workbench_defaults", "system.workbench.view", None),
    # tasks: the task center
    ("admin:sales_tasks", "sales.tasks.view", None),
    ("admin:sales_task_add", "sales.tasks.create", None),
    ("admin:sales_task_edit", "sales.tasks.view", lambda w: [w["tasks"][w["me"].pk].pk]),
    ("admin:sales_task_customers", "sales.tasks.view", None),
    # strategies
    ("admin:strategies", "marketing.strategies.view", None),
    ("admin:strategy_add", "marketing.strategies.create", None),
    ("admin:strategy_edit", "marketing.strategies.view", lambda w: [_strategies(w)["strategy"].pk]),
    ("admin:strategy_results", "marketing.strategies.view", lambda w: [_strategies(w)["strategy"].pk]),
    ("admin:strategies_review", "marketing.strategies.approve", None),
    ("admin:strategy_tasks", "marketing.strategy_tasks.view", None),
    # events (helper "events")
    ("admin:event_types", "marketing.event_types.view", None),
    ("admin:event_type_add", "marketing.event_types.create", None),
    ("admin:event_type_edit", "marketing.event_types.view", lambda w: [w["event_type"].pk]),
    ("admin:event_history", "marketing.event_history.view", None),
    # automation (helper "delivery")
    ("admin:automation_processors", "marketing.processors.view", None),
    ("admin:automation_processor_add", "marketing.processors.create", None),
    ("admin:automation_processor_edit", "marketing.processors.view", lambda w: [w["processor"].pk]),
    ("admin:automation_templates", "system.message_templates.view", None),
    ("admin:automation_template_add", "system.message_templates.create", lambda w: ["sms"]),
    ("admin:automation_template_edit", "system.message_templates.view", lambda w: [w["message_template"].pk]),
    ("admin:automation_sms_log", "system.sms_log.view", None),
    ("admin:automation_email_log", "system.email_log.view", None),
    # the follow-up workspace, 客户跟进任务 (helper "workspace")
    ("admin:sales_workspace", "sales.follow_ups.view", None),
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p[0])
def test_page_opens_only_for_roles_that_grant_it(client, matrix, personas, page, persona):
    name, perm, args = page
    user = personas[persona]
    matrix["me"] = user
    client.force_login(user)
    response = client.get(reverse(name, args=args(matrix) if args else None))
    if perm is None or user.has_shoal_perm(perm):
        assert response.status_code == 200, response.status_code
    else:
        assert response.status_code == 403, response.status_code


def test_anonymous_visitor_is_sent_to_login(client, db):
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_sidebar_shows_only_granted_menus(client, personas):
    client.force_login(personas["manager"])
    html = client.get("/").content.decode()
    assert reverse("admin:accounts_user_changelist") in html
    assert reverse("admin:accounts_role_changelist") not in html
    client.force_login(personas["admin"])
    html = client.get("/").content.decode()
    assert reverse("admin:accounts_role_changelist") in html


def test_page_post_without_permission_changes_nothing(client, matrix, personas):
    client.force_login(personas["manager"])  # may view users, not edit them
    target = matrix["target"]
    response = client.post(reverse("admin:accounts_user_change", args=[target.pk]),
                           {"username": "hacked", "masking_policy": "none"})
    assert response.status_code == 403
    assert User.objects.get(pk=target.pk).username == "matrix_target"
