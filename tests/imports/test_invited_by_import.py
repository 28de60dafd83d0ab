"""Import: the invited_by column takes the inviter's customer id or mobile; an unknown inviter is a row error."""

import pytest

from shoal.customers.models import Customer
from tests.imports.test_pipeline import report_lines, run_import, write_csv

pytestmark = pytest.mark.django_db


def test_invited_by_by_id_or_mobile(tmp_path):
    inviter = Customer.objects.create(name="老客户", mobile="+8613800000009")
    path = write_csv(tmp_path, [["张伟", "13800000001", str(inviter.pk)],
                                ["李娜", "13800000002", "13800000009"],
                                ["王芳", "13800000003", "13899999999"]],
                     header=["姓名", "手机号", "邀请人"])
    run = run_import(path)
    assert Customer.objects.get(mobile="+8613800000001").invited_by_id == inviter.pk
    assert Customer.objects.get(mobile="+8613800000002").invited_by_id == inviter.pk
    assert not Customer.objects.filter(mobile="+8613800000003").exists()
    lines = report_lines(run)
    assert len(lines) == 1 and lines[0][0] == "4"
