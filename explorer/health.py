"""GET /healthz: is the database reachable, is the broker reachable."""
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, connection.vendor
    except Exception as exc:  # any failure means "not reachable"; the reason is reported
        return False, f"{type(exc).__name__}: {exc}"[:300]


def _broker_ok() -> tuple[bool, str]:
    from explorer.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            return True, conn.transport_cls if isinstance(conn.transport_cls, str) else conn.info().get("transport", "")
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:300]


@require_GET
def healthz(request):
    db_ok, db_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    body = {
        "status": "ok" if db_ok and broker_ok else "degraded",
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_ok, "detail": broker_detail},
    }
    return JsonResponse(body, status=200)
