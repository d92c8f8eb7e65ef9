"""Crawl+clean throughput against offline `kirinuki clean` on the same pages, and crawler memory.

    python benchmarks/crawl_bench.py [--pages 1000 2000 4000] [--workers N] [--keep DIR]

For each size: generate N news-like article pages (navigation, ranking, related links, footer
around 8-12 paragraphs), serve them from a loopback server with a sitemap index, crawl them with
`python -m kirinuki.scraper` (robots.txt obeyed, no delay, AutoThrottle off, 16 requests at a time), then
clean the same files offline with `kirinuki clean -j N`. Prints pages/s for both, the ratio
(crawl+clean / clean: near 1.0 means the crawl keeps the cleaning workers busy and cleaning does
not starve the downloads), and the peak RSS of the crawler process and of one cleaning worker
(flat across sizes = memory does not grow with the number of pages).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kirinuki.demo import sitegen, to_toml  # noqa: E402
from kirinuki.demo.server import Resource, SiteServer  # noqa: E402

TOPICS = ["経済", "政治", "国際", "社会", "科学", "スポーツ", "文化", "地域"]
PHRASES = [
    "政府は{n}日、{t}分野の新たな対策をまとめた。関係者によると、予算規模は前年を上回る見通しだ。",
    "専門家は「{t}をめぐる状況は転換点にある」と指摘し、今後の議論の行方を注視している。",
    "{t}担当の閣僚は記者会見で、地方自治体との連携を強化する考えを示した。具体策は来月にも公表される。",
    "民間の調査では、{t}に関心があると答えた人が全体の{p}割に達した。若い世代ほど関心が高い傾向がある。",
    "一方で、財源の確保や人材不足など課題も多い。{t}関連の予算は{n}年度に見直しが予定されている。",
    "海外でも{t}をめぐる動きが活発になっており、各国の対応の違いが浮き彫りになっている。",
]


def article_page(i: int) -> bytes:
    t = TOPICS[i % len(TOPICS)]
    n_par = 8 + i % 5
    paras = "\n".join(
        f"<p>{PHRASES[(i + k) % len(PHRASES)].format(n=(i + k) % 28 + 1, t=t, p=(i * 7 + k) % 9 + 1)}"
        f"（記事{i}・段落{k + 1}）</p>" for k in range(n_par))
    nav = " ".join(f'<a href="/category/{k}/">{TOPICS[k % 8]}{k}</a>' for k in range(30))
    ranking = "".join(f'<li><a href="/news/{(i + k) % 997}.html">ランキング記事{k}の見出し</a></li>'
                      for k in range(10))
    related = "".join(f'<li><a href="/news/{(i * 3 + k) % 991}.html">関連記事{k}</a></li>' for k in range(6))
    return f"""<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">
<title>{t}の新対策 記事{i} | ベンチニュース</title>
<meta property="og:title" content="{t}の新対策 記事{i}">
<meta property="article:published_time" content="2025-03-{i % 28 + 1:02d}T09:{i % 60:02d}:00+09:00">
<script>var dataLayer = [];{"x" * 2000}</script><style>body{{margin:0}}{"y" * 3000}</style></head>
<body><header><nav>{nav}</nav></header>
<div id="main"><article><h1>{t}の新対策 記事{i}</h1><div class="byline">ベンチ太郎</div>
<div class="body">{paras}</div>
<div class="share">Xでシェアする Facebookでシェアする はてなブックマークに追加する</div>
</article>
<aside><h2>アクセスランキング</h2><ol>{ranking}</ol><h2>関連記事</h2><ul>{related}</ul></aside></div>
<footer><p>Copyright © Bench News. All rights reserved.</p>{nav}</footer></body></html>""".encode()


def build(n: int, pages_dir: Path, srv: SiteServer) -> None:
    pages_dir.mkdir(parents=True, exist_ok=True)
    urls = []
    for i in range(n):
        body = article_page(i)
        (pages_dir / f"a{i:05d}.html").write_bytes(body)
        srv.resources[f"/news/a{i:05d}.html"] = Resource(body)
        urls.append(srv.url(f"/news/a{i:05d}.html"))
    children = []
    for k in range(0, n, 1000):
        path = f"/sitemaps/{k // 1000}.xml"
        srv.resources[path] = Resource(
            sitegen.urlset([sitegen.Item(u, "x") for u in urls[k:k + 1000]]), "application/xml")
        children.append((srv.url(path), None))
    srv.resources["/sitemap_index.xml"] = Resource(sitegen.sitemap_index(children), "application/xml")
    srv.resources["/robots.txt"] = Resource(b"User-agent: *\nDisallow: /private/\n", "text/plain")


def crawl(srv: SiteServer, work: Path, workers: int | None) -> dict:
    sources = work / "sources.toml"
    crawl_cfg = {"concurrent_requests_total": 32, "retry_backoff": 0.2}
    if workers is not None:
        crawl_cfg["workers"] = workers
    sources.write_text(to_toml({"crawl": crawl_cfg, "sources": [{
        "name": "bench", "sitemaps": [srv.url("/sitemap_index.xml")],
        "download_delay": 0.0, "concurrent_requests": 16, "autothrottle": False}]}))
    out = work / "out"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kirinuki.scraper", "--sources", str(sources), "-o", str(out),
                    "--no-progress"], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    summary = json.loads(next(out.glob("*.summary.json")).read_text())
    summary["wall_s"] = wall
    return summary


def clean_offline(pages_dir: Path, work: Path, jobs: int) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sys; from kirinuki.cli import main; sys.exit(main())",
                    "clean", str(pages_dir), "-j", str(jobs), "-q", "-o", str(work / "clean.jsonl")],
                   check=True, cwd=REPO)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, nargs="+", default=[1000, 2000, 4000])
    ap.add_argument("--workers", type=int, default=None,
                    help="cleaning processes for both (default: the crawler's, CPUs - 1)")
    ap.add_argument("--keep", type=Path, help="keep generated pages and outputs here")
    args = ap.parse_args()
    workers = args.workers if args.workers is not None else max(1, (os.cpu_count() or 2) - 1)
    print(f"CPUs {os.cpu_count()}, cleaning workers {workers}")
    print(f"{'pages':>6} {'crawl+clean p/s':>16} {'clean-only p/s':>15} {'ratio':>6} "
          f"{'records':>8} {'failed':>6} {'crawler MB':>10} {'worker MB':>9}")
    for n in args.pages:
        work = Path(tempfile.mkdtemp(prefix=f"crawlbench{n}-", dir=args.keep))
        try:
            with SiteServer() as srv:
                build(n, work / "pages", srv)
                s = crawl(srv, work, workers)
            t_clean = clean_offline(work / "pages", work, workers)
            crawl_ps = n / s["wall_s"]
            clean_ps = n / t_clean
            print(f"{n:>6} {crawl_ps:>16.1f} {clean_ps:>15.1f} {crawl_ps / clean_ps:>6.2f} "
                  f"{s['records']:>8} {s['totals']['failed']:>6} "
                  f"{s['peak_rss_mb']['crawler']:>10.1f} {s['peak_rss_mb']['cleaner_worker']:>9.1f}",
                  flush=True)
        finally:
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
