"""Foundation: request latency of /healthz and an authenticated API list, through the full stack."""

from django.test import Client

from bench.bench_customers import timed


def run():
    from shoal.accounts.demo import load
    from shoal.accounts.models import ApiToken, User

    load()
    admin = User.objects.filter(username="admin").first() or User.objects.create_superuser("admin", password="x-bench-1")
    _, raw = ApiToken.issue(admin)
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    return {
        "healthz": timed(lambda: client.get("/healthz"), 200),
        "api_users_list": timed(lambda: client.get("/api/v1/users", **headers), 200),
    }
