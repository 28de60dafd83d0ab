"""Run a function in several threads released at the same moment (two workers, four clients…), each thread with
its own database connection: the concurrency tests' one way of racing real code against itself."""

import threading

from django.db import connection


def at_once(fn, n: int = 2, *, timeout: float = 120) -> list:
    """Call ``fn()`` in ``n`` threads started together; returns their results (in finishing order). Fails the test
    when a thread raised or did not finish within ``timeout`` seconds."""
    barrier, results, errors = threading.Barrier(n), [], []

    def run():
        try:
            barrier.wait()
            results.append(fn())
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish in time"
    assert not errors, errors
    return results
