"""Host names against configured domains: the one suffix rule of profiles and the crawler."""

from __future__ import annotations


def on_domain(host: str | None, domain: str) -> bool:
    """`host` is `domain` or one of its subdomains (`www.example.jp` is on `example.jp`;
    `badexample.jp` is not). Case and a trailing root dot are ignored."""
    host = (host or "").lower().rstrip(".")
    domain = domain.lower().rstrip(".")
    return bool(domain) and (host == domain or host.endswith("." + domain))
