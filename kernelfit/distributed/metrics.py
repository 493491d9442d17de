"""What a run moved: bytes sent between workers and bytes spilled to disk.

Read from each worker's own counters (``transfer_outgoing_bytes_total`` and
the spill buffer's cumulative ``disk-write`` metrics), so the numbers are
Dask's, not a model. Counters start at zero when a worker starts: take a
:func:`transfer_totals` snapshot before and after a run and subtract
(:func:`transfer_delta`); a worker restarted in between restarts its count.
"""

from __future__ import annotations

__all__ = ["transfer_delta", "transfer_totals"]

_FIELDS = ("sent_bytes", "sent_count", "received_count", "spilled_bytes", "spill_writes")


def _worker_counters(dask_worker) -> dict:
    spill = getattr(dask_worker.data, "cumulative_metrics", {})
    return {
        "sent_bytes": int(dask_worker.transfer_outgoing_bytes_total),
        "sent_count": int(dask_worker.transfer_outgoing_count_total),
        "received_count": int(dask_worker.state.transfer_incoming_count_total),
        "spilled_bytes": int(spill.get(("disk-write", "bytes"), 0)),
        "spill_writes": int(spill.get(("disk-write", "count"), 0)),
        "memory_bytes": int(dask_worker.state.nbytes),
    }


def transfer_totals(client) -> dict:
    """Counters of every worker now.

    Returns
    -------
    dict
        ``{"workers": {address: counters}, "sent_bytes": ..., "sent_count": ...,
        "received_count": ..., "spilled_bytes": ..., "spill_writes": ...}``, the
        totals summed over workers. ``memory_bytes`` per worker is what it
        holds in memory now.
    """
    workers = client.run(_worker_counters)
    totals = {name: sum(c[name] for c in workers.values()) for name in _FIELDS}
    return {"workers": workers, **totals}


def transfer_delta(before: dict, after: dict) -> dict:
    """Totals of ``after`` minus ``before`` (workers present in both; new ones in full)."""
    out = {}
    for name in _FIELDS:
        out[name] = sum(
            counters[name] - before["workers"].get(address, {}).get(name, 0)
            for address, counters in after["workers"].items()
        )
    return out
