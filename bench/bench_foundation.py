"""Foundation: request latency of /healthz and an authenticated API list, through the full stack."""

import statistics
import time

from django.test import Client


def _timed(fn, n):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2), "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2)}


def run():
    from shoal.accounts.demo import load
    from shoal.accounts.models import ApiToken, User

    load()
    admin = User.objects.filter(username="admin").first() or User.objects.create_superuser("admin", password="x-bench-1")
    _, raw = ApiToken.issue(admin)
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    return {
        "healthz": _timed(lambda: client.get("/healthz"), 200),
        "api_users_list": _timed(lambda: client.get("/api/v1/users", **headers), 200),
    }
