"""Cluster mode: one seeder and any number of `kirinuki worker` processes share a run.

The request queue and duplicate filter are scrapy-redis's (in Redis, keys namespaced per run);
the incremental state and the records live in the shared database (`open_store(url)`). Our own
additions are the ones scrapy-redis lacks for "nothing lost": a lease on every request a worker
pops (`queue.Leases`), re-queued when that worker's heartbeat stops, and the run's drain and
finish (`seed`). Modules:

- `keys`: the Redis key names of a run;
- `queue`: the leased priority queue, heartbeats, re-queueing a dead worker's requests;
- `scheduler`: scrapy-redis's scheduler with a local queue for a leased request's follow-ups;
- `spider`: the shared spider in cluster form (requests into Redis, leases settled);
- `worker`: `kirinuki worker`;
- `seed`: `kirinuki crawl` in cluster mode (seed, wait for the drain, finish the run).
"""
