"""Redis key names, in one place: everything of a run sits under `kirinuki:run:<run_id>:`.

Per-run keys mean a new run's duplicate filter starts empty: what is new across runs is decided by
our own incremental state, not by last run's fingerprints.
"""

from __future__ import annotations

PREFIX = "kirinuki"
RUNS = f"{PREFIX}:runs"  # sorted set: active run ids, scored by start time
SEEDER_LOCK = f"{PREFIX}:seeder"  # one seeding `kirinuki crawl` at a time


def run(run_id: str) -> str:
    """Hash: the run's sources text, selection, limits and phase (seeding|running|finishing)."""
    return f"{PREFIX}:run:{run_id}"


def requests(run_id: str) -> str:
    """scrapy-redis's priority queue (sorted set of serialized requests)."""
    return f"{run(run_id)}:requests"


def dupefilter(run_id: str) -> str:
    """scrapy-redis's duplicate filter (set of request fingerprints)."""
    return f"{run(run_id)}:dupefilter"


def stats(run_id: str) -> str:
    """Hash: the run's `kirinuki/<source>/<counter>` counters, summed over all workers."""
    return f"{run(run_id)}:stats"


def scheduled(run_id: str) -> str:
    """Hash: source -> article requests pushed in this run (the cluster-wide max_articles)."""
    return f"{run(run_id)}:scheduled"


def order(run_id: str) -> str:
    """Hash: source -> requests pushed so far (round-robin order over sources in the queue)."""
    return f"{run(run_id)}:order"


def workers(run_id: str) -> str:
    """Set: ids of the workers that took requests of this run."""
    return f"{run(run_id)}:workers"


def seen_workers(run_id: str) -> str:
    """Set: every worker that ever took a request of this run (for the summary)."""
    return f"{run(run_id)}:seen_workers"


def inflight(run_id: str, worker_id: str) -> str:
    """Hash: serialized request -> queue score, for each request the worker holds a lease on."""
    return f"{run(run_id)}:inflight:{worker_id}"


def alive(worker_id: str) -> str:
    """String with a TTL: present while the worker's heartbeat runs."""
    return f"{PREFIX}:worker:{worker_id}:alive"


def all_of_run(run_id: str) -> str:
    """A SCAN pattern for every key of the run (cleanup at finish)."""
    return f"{run(run_id)}:*"
