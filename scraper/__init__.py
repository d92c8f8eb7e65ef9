"""The crawler: the only package that imports Scrapy. `kirinuki crawl` lives in `scraper.command`.

Modules: `config` (sources file), `discovery` (feeds, sitemaps, links), `spider`, `cleaning`
(worker processes calling `pipelines`), `item_pipelines`, `middlewares`, `settings`, `state`
(SQLite + JSONL). The offline demo and its loopback sites are `kirinuki.demo`, outside.
"""
