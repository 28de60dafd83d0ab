import pytest

from shoal.accounts import services
from shoal.accounts.demo import ensure_default_roles
from shoal.accounts.models import ApiToken

PERSONAS = ["admin", "manager", "salesperson", "norole"]


@pytest.fixture(autouse=True)
def _reset_axes(settings):
    settings.AXES_ENABLED = True
    yield


@pytest.fixture
def roles(db):
    return ensure_default_roles()


def make_user(username, role=None, roles=None, **kw):
    role_ids = [role.pk] if role is not None else []
    kw.setdefault("must_change_password", False)
    kw.setdefault("password", "secret-pass-1")
    return services.user_create(actor=None, username=username, role_ids=role_ids, **kw)


@pytest.fixture
def personas(roles):
    """admin, manager, salesperson (by role) and a user with no role."""
    return {
        "admin": make_user("p_admin", roles["admin"]),
        "manager": make_user("p_manager", roles["manager"]),
        "salesperson": make_user("p_sales", roles["salesperson"]),
        "norole": make_user("p_norole"),
    }


@pytest.fixture
def bearer():
    def header(user):
        _, raw = ApiToken.issue(user)
        return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    return header


@pytest.fixture
def superuser(db):
    return make_user("root", is_superuser=True)
