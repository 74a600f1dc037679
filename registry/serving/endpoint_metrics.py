"""Request count and latency p50/p99 per served entity over the last hour, from per-minute histograms in the
database (ServingEndpointMinute). The database rather than Redis: the numbers then mean the same with and without
Redis (the quick start has none), survive restarts, and one indexed upsert per request is cheap beside a model
invocation. Percentiles are read off the histogram, so they are the upper bound of the bucket they fall in."""
from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from registry.models import ServingEndpointMinute

# Upper bounds (ms) of the latency buckets; the last bucket holds everything slower.
BOUNDS_MS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250, 320, 400, 500,
             650, 800, 1000, 1300, 1600, 2000, 2500, 3200, 4000, 5000, 6500, 8000, 10000, 20000, 30000, 60000)
WINDOW = timedelta(hours=1)


def bucket_of(elapsed_ms: float) -> int:
    return next((i for i, bound in enumerate(BOUNDS_MS) if elapsed_ms <= bound), len(BOUNDS_MS))


def record(endpoint_id: int, entity_name: str, elapsed_ms: float) -> None:
    """Count one answered request. Never raises into the invocation: metrics are best effort."""
    minute = timezone.now().replace(second=0, microsecond=0)
    key = dict(endpoint_id=endpoint_id, entity_name=entity_name, minute=minute, bucket=bucket_of(elapsed_ms))
    rows = ServingEndpointMinute.objects.filter(**key)
    if rows.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            ServingEndpointMinute.objects.create(**key, count=1)
    except IntegrityError:  # another request created this minute's row first
        rows.update(count=F("count") + 1)
        return
    # A new minute's first row: the endpoint's rows past the window go.
    ServingEndpointMinute.objects.filter(endpoint_id=endpoint_id, minute__lt=minute - WINDOW).delete()


def _percentile(histogram: dict[int, int], total: int, fraction: float) -> float | None:
    if not total:
        return None
    rank, seen = fraction * total, 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return float(BOUNDS_MS[bucket]) if bucket < len(BOUNDS_MS) else float(BOUNDS_MS[-1])
    return float(BOUNDS_MS[-1])


def last_hour(endpoint_id: int) -> dict[str, dict]:
    """entity name -> {request_count, latency_p50_ms, latency_p99_ms, per_minute: [{minute, request_count}]}."""
    since = timezone.now().replace(second=0, microsecond=0) - WINDOW + timedelta(minutes=1)
    rows = (ServingEndpointMinute.objects.filter(endpoint_id=endpoint_id, minute__gte=since)
            .values("entity_name", "minute", "bucket").annotate(n=Sum("count")))
    histograms: dict[str, dict[int, int]] = {}
    minutes: dict[str, dict] = {}
    for row in rows:
        histogram = histograms.setdefault(row["entity_name"], {})
        histogram[row["bucket"]] = histogram.get(row["bucket"], 0) + row["n"]
        per_minute = minutes.setdefault(row["entity_name"], {})
        per_minute[row["minute"]] = per_minute.get(row["minute"], 0) + row["n"]
    result = {}
    for name, histogram in histograms.items():
        total = sum(histogram.values())
        result[name] = {
            "request_count": total,
            "latency_p50_ms": _percentile(histogram, total, 0.50),
            "latency_p99_ms": _percentile(histogram, total, 0.99),
            "per_minute": [{"minute": int(m.timestamp() * 1000), "request_count": n}
                           for m, n in sorted(minutes[name].items())],
        }
    return result
