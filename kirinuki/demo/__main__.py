"""`python -m kirinuki.demo`: serve the shipped fixtures as loopback sites (see kirinuki.demo)."""

from __future__ import annotations

from kirinuki.demo import main

raise SystemExit(main())
