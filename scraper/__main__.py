"""`python -m kirinuki.scraper ...` is `kirinuki crawl ...` without the CLI package."""

from __future__ import annotations

from kirinuki.scraper.command import main

if __name__ == "__main__":
    raise SystemExit(main())
