"""`pipelines/trafilatura_fast.py`: trafilatura's fast mode without the work we discard (issue 10).

It replicates trafilatura internals, so it is pinned three ways: the source of every function it
stands in for and the XPaths it prefilters must be the ones it was written against; its body must
equal `bare_extraction`'s on real pages and on pages made to take each branch; the shortcuts it
takes (prune prefilters, html2txt's length bound) must hold on those pages.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import inspect
import json
import math

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kirinuki.pipelines import generic, trafilatura_fast
from kirinuki.pipelines.doc import parse_html
from lxml import etree

from tests.conftest import BENCHMARKS, FIXTURES

# sha256 (first 16 hex digits) of the source of what fast_body replicates or relies on, in
# trafilatura 2.3.1. A new trafilatura fails here: read its new source, port the change to
# pipelines/trafilatura_fast.py, add the version to TESTED_VERSIONS and update these.
PINNED_SOURCES = {
    ("trafilatura.core", "bare_extraction"): "2e57adb3062086f9",
    ("trafilatura.core", "trafilatura_sequence"): "f03dc4d2946dacbd",
    ("trafilatura.core", "_prepare_tree"): "9595f0642825c2c7",
    ("trafilatura.core", "_extract_and_compare"): "f7d056c2118222e8",
    ("trafilatura.core", "_recall_retry"): "59594c39714f57be",
    ("trafilatura.core", "_forum_thread_page"): "e7f7cef99b33704f",
    ("trafilatura.baseline", "html2txt"): "a8c97eab2097c57d",
    ("trafilatura.baseline", "_spaced_text"): "d04314f988c6afae",
    ("trafilatura.settings", "Extractor.__init__"): "8a7141d46badfd06",
    ("trafilatura.main_extractor", "extract_content"): "f0270c94ac5f30b5",
    ("trafilatura.main_extractor", "_extract"): "3e0e39ed3e03e8e4",
    ("trafilatura.main_extractor", "prune_unwanted_sections"): "e6eb7afcc64d3f37",
    ("trafilatura.main_extractor", "recover_wild_text"): "335f6d13321fd4e3",
    ("trafilatura.baseline", "basic_cleaning"): "80877b2ccdefda2d",
    ("trafilatura.baseline", "baseline"): "4a4215f815e62745",
    # full mode's path to jusText (full_body)
    ("trafilatura.external", "compare_extraction"): "2d3d1ffea3ba469f",
    ("trafilatura.external", "justext_rescue"): "43d803082a76d38a",
    ("trafilatura.external", "try_justext"): "6f0fa6cffc365def",
    ("trafilatura.external", "jt_stoplist_init"): "ea87de5a416844d8",
    ("justext.core", "classify_paragraphs"): "37149c0348a99b3c",
    ("justext.core", "define_stoplist"): "9149bbf4aa8ac519",
    ("justext.utils", "get_stoplist"): "3a53b55005b7e992",
}
PINNED_XPATHS = {
    "RAW_TREE_PRUNE_XPATH": [
        "\n        .//*[self::div or self::section or self::aside][\n"
        "        re:test(@id, 'mvp-post-add-(?:box|wrap)|infinite-?scroll') or\n"
        "        re:test(@class, 'mvp-post-add-(?:box|wrap)|infinite-?scroll')][\n"
        "        not(.//h1) or re:test(@id, 'mvp-post-add-(?:box|wrap)') or "
        "re:test(@class, 'mvp-post-add-(?:box|wrap)')]\n        ",
        ".//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]",
    ],
    "REMOVE_COMMENTS_AND_LISTS_XPATH": [
        "\n        .//*[self::div or self::list or self::section or self::details or self::ol or self::ul][\n"
        "        re:test(@id, '^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)') or\n"
        "        re:test(@class, '^[Cc]omment(?!ary)|(?:article|post)-comments')][\n"
        "        not(self::ol or self::ul) or re:test(@id, '^(?:[Cc]omment(?!ary)|comol)') or "
        "re:test(@class, '^[Cc]omment(?!ary)|(?:article|post)-comments')]\n        ",
    ],
}


# The XPaths answered by Python walks (trafilatura_fast.first_body, overall_discard, hidden_discard)
PINNED_XPATHS["BODY_XPATH[:1]"] = [
    "\n        .//*[self::article or self::div or self::main or self::section][\n"
    "        @class='post' or @class='entry' or\n        @itemprop='articleBody' or @id='articleContent' or\n"
    "        re:test(@id, '(?:entry|article|art)-content|article__content|article(?:-|__)?body|articleBody|body-text') or\n"
    "        re:test(@class, 'post[-_]text|post-body|post-?entry|post[-_]?content|postContent|post_inner_wrapper|"
    "article-?text|articleText|(?:entry|page|text|article|art)-content|article__content|article(?:-|__)?body|"
    "articleBody|ArticleContent|body-text|article__container')\n        ][1]\n        ",
]
PINNED_XPATHS["OVERALL_DISCARD_XPATH"] = [
    "\n        .//*[self::div or self::item or self::list or self::p or self::section or self::span][\n"
    "        @data-lp-replacement-content or\n        contains(translate(@role, 'N', 'n'), 'nav') or\n"
    "        contains(@data-component, 'MostPopularStories') or\n        re:test(@id|@class, 'cookie') or\n"
    "        re:test(@id, '^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|"
    "^(?:jp-|dpsp-content)|bmdh|footer|Footer|share|Share|nav|Nav|menu|related|message-container|premium|^ad-') or\n"
    "        re:test(@class, '^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|"
    "^(?:nav|post-nav|ZendeskForm)|subnav|avigation|navbar|navbox|menu|bar| ad |-ad-|(?:^| )ad-|dfp[Aa]d|outbrain|"
    "taboola|criteo|paid-?content|widget|footer|Footer|byline|Byline|share-|sociable|embedded|embed|tag-list|consent|"
    "modal-content|permission|elated|next-|-stories|most-popular|more-on|meta|rating|attachment|timestamp|user-info|"
    "user-profile|-icon|article-infos|message-container|slide|viewport|overlay|options|expand|obfuscated|blurred|"
    "mol-factbox|yin|zlylin|nfoline')]\n        ",
    "\n        .//*[@class='comments-title' or\n        starts-with(@id|@class, 'reply-') or\n"
    "        re:test(@id|@style, 'hidden') or\n        contains(@style, 'display:none') or contains(@style, 'display: none') or\n"
    "        re:test(@id, 'reader-comments|akismet') or\n"
    "        re:test(@class, '^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print| hidden| hide|noprint|notloaded') or @aria-hidden='true']\n        ",
]


BASIC_CLEAN_PATH = (
    ".//aside|.//div[contains(@class|@id, 'footer')]|.//fencedframe|.//footer|.//script|.//style|.//svg|.//template"
    "|.//*[re:test(@class, 'cookie[-_]?(?:banner|bar|consent|law|notice|policy|description)|notice[-_]{0,2}cookie|"
    "consent[-_]?(?:banner|manager|sdk)|borlabs|cookiebot|cmplz|onetrust|moove[-_]?gdpr', 'i') or "
    "re:test(@id, 'cookie[-_]?(?:banner|bar|consent|law|notice|policy|description)|notice[-_]{0,2}cookie|"
    "consent[-_]?(?:banner|manager|sdk)|borlabs|cookiebot|cmplz|onetrust|moove[-_]?gdpr', 'i')]"
)


def _source_hash(module: str, qualname: str) -> str:
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


def _names(code) -> set[str]:
    """The global names a code object and its nested code (comprehensions, lambdas) read."""
    out = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            out |= _names(const)
    return out


def _reaches(fn, names: set[str], seen: set) -> bool:
    """Whether `fn`, or a trafilatura/jusText function it calls (transitively), reads `names`."""
    if fn in seen or not (fn.__module__ or "").startswith(("trafilatura", "justext")):
        return False
    seen.add(fn)
    read = _names(fn.__code__)
    return bool(read & names) or any(
        _reaches(fn.__globals__[n], names, seen) for n in read if inspect.isfunction(fn.__globals__.get(n)))


def test_pinned_trafilatura_internals() -> None:
    import trafilatura

    assert trafilatura.__version__ in trafilatura_fast.TESTED_VERSIONS
    assert trafilatura_fast.supported()
    moved = {k: h for k, h in PINNED_SOURCES.items() if _source_hash(*k) != h}
    assert not moved, f"trafilatura internals changed, re-check pipelines/trafilatura_fast.py: {moved}"
    xpaths = importlib.import_module("trafilatura.xpaths")
    for name, paths in PINNED_XPATHS.items():
        found = getattr(xpaths, name.split("[")[0])[:1 if name.endswith("[:1]") else None]
        assert [x.path for x in found] == paths, name
    assert importlib.import_module("trafilatura.settings").BASIC_CLEAN_XPATH.path == BASIC_CLEAN_PATH
    # every function of the extractor modules that reads the XPaths, or calls one that does, is rebound
    for module_name in ("trafilatura.main_extractor", "trafilatura.baseline"):
        rebound = trafilatura_fast._REBOUND[module_name]
        module = importlib.import_module(module_name)
        names = {"BODY_XPATH", "OVERALL_DISCARD_XPATH", "BASIC_CLEAN_XPATH", *rebound}
        readers = {n for n, f in vars(module).items()
                   if inspect.isfunction(f) and f.__module__ == module_name and names & set(f.__code__.co_names)}
        assert readers == set(rebound), (module_name, readers)
    # and no rebound function calls, outside the rebound set, one that reaches what is replaced
    replaced = {"BODY_XPATH", "OVERALL_DISCARD_XPATH", "BASIC_CLEAN_XPATH", "REMOVE_COMMENTS_AND_LISTS_XPATH",
                "JT_STOPLIST", "jt_stoplist_init",
                "define_stoplist", *(n for names in trafilatura_fast._REBOUND.values() for n in names)}
    rebound_fns = {getattr(importlib.import_module(m), n) for m, names in trafilatura_fast._REBOUND.items()
                   for n in names}
    for fn in rebound_fns:
        for name in _names(fn.__code__) - replaced:  # those are replaced in the namespace
            callee = fn.__globals__.get(name)
            if inspect.isfunction(callee) and callee not in rebound_fns:
                assert not _reaches(callee, replaced, set()), (fn.__qualname__, name)
    core = importlib.import_module("trafilatura.core")
    assert (core.ESCALATION_MAX_LENGTH, core.ESCALATION_PAGE_SHARE, core.ESCALATION_ACCEPT_RATIO) == (3000, 0.2, 1.5)


_PROSE = ("The council voted on Tuesday to extend the harbour wall by forty metres, a project that "
          "engineers say will protect the old town from winter storms for decades to come. ")
_CHROME = "".join(f"<div class='teaser'><a href='/x{i}'>Other story number {i} here</a></div>" for i in range(40))


def _synthetic_pages() -> dict[str, str]:
    """Pages that take each branch: every raw-tree prune, the baseline rescue of a short result,
    the recall escalation of a result that covers little of the page, no text at all."""
    art = "<article><h1>Harbour wall</h1>" + "".join(f"<p>{_PROSE}{i}</p>" for i in range(6)) + "</article>"
    return {
        "comments": f"<html><body>{art}<div id='comments'><p>{_PROSE}</p></div>"
                    f"<ul class='comment-list'><li>{_PROSE}</li></ul><div class='commentary'><p>{_PROSE}</p></div></body></html>",
        "infinite": f"<html><body>{art}<div class='infinite-scroll'><h2>Next</h2><p>{_PROSE * 3}</p></div>"
                    f"<section id='mvp-post-add-box'><h1>Appended</h1><p>{_PROSE}</p></section></body></html>",
        "elementor": f"<html><body>{art}<div class='elementor-share-buttons'>Share on X</div></body></html>",
        "forum": '<html><head><script type="application/ld+json">{"@type": "DiscussionForumPosting"}</script>'
                 f"</head><body>{art}<div id='comments'><p>{_PROSE}</p></div></body></html>",
        "short": f"<html><body><div><p>{_PROSE[:120]}</p></div>{_CHROME}</body></html>",
        "escalation": f"<html><body><article><p>{_PROSE * 3}</p></article>"
                      f"<div class='x'>{'<div>' + _PROSE + '</div>' * 1}" * 30 + "</div></body></html>",
        "empty": "<html><body><div><a href='/'>Home</a></div></body></html>",
        "formfeed": f"<html><body><article><p>{_PROSE}\x0c x</p><p>{_PROSE}</p></article>{_CHROME}</body></html>",
    }


def _pages() -> list[tuple[str, str]]:
    pages = list(_synthetic_pages().items())
    for path in sorted(FIXTURES.rglob("*.html*"))[::3]:
        raw = path.read_bytes()
        pages.append((path.name, (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8", "replace")))
    for name in ("fundus", "article-extraction", "readability", "chinese-wce", "newspaper4k"):
        manifest = BENCHMARKS / name / "gold.jsonl"
        if not manifest.exists():
            continue
        lines = manifest.read_text(encoding="utf-8").splitlines()[::12]
        for line in lines:
            entry = json.loads(line)
            raw = (manifest.parent / entry["html"]).read_bytes()
            raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
            pages.append((f"{name}/{entry['id']}", raw.decode("utf-8", "replace")))
    return pages


PAGES = _pages()


def _bare(tree: etree._Element, url: str | None) -> etree._Element | None:
    from trafilatura import bare_extraction

    doc = bare_extraction(tree, url=url, include_comments=False, include_tables=True,
                          include_images=False, include_links=False, deduplicate=False,
                          with_metadata=False, fast=True, output_format="txt")
    return None if doc is None else doc.body


def _xml(body: etree._Element | None) -> str | None:
    return None if body is None else etree.tostring(body, encoding="unicode")


def test_fast_body_equals_bare_extraction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same body, element for element, and the caller's tree untouched; every branch taken."""
    taken: dict[str, int] = {"baseline": 0, "html2txt": 0, "recall": 0, "comments": 0, "infinite": 0}
    core = importlib.import_module("trafilatura.core")
    real_prunes = trafilatura_fast._prunes

    def count(name, fn):
        def wrapped(*a, **kw):
            taken[name] += 1
            return fn(*a, **kw)
        return wrapped

    def prunes(tree):
        p = real_prunes(tree)
        taken["comments"] += p.comments
        taken["infinite"] += p.infinite
        return p

    rebound = trafilatura_fast._rebound()
    monkeypatch.setitem(rebound, "baseline", count("baseline", rebound["baseline"]))
    monkeypatch.setitem(rebound, "html2txt", count("html2txt", rebound["html2txt"]))
    monkeypatch.setattr(core, "_recall_retry", count("recall", core._recall_retry))
    monkeypatch.setattr(trafilatura_fast, "_prunes", prunes)
    for name, html in PAGES:
        tree = parse_html(html)
        before = etree.tostring(tree)
        ours = _xml(trafilatura_fast.fast_body(tree, "https://example.com/a"))
        assert etree.tostring(tree) == before, name
        assert ours == _xml(_bare(tree, "https://example.com/a")), name
    assert all(taken.values()), taken


def test_prune_prefilter_never_skips_a_match() -> None:
    """Where `_prunes` says a raw-tree prune cannot match, its XPath finds nothing."""
    xpaths = importlib.import_module("trafilatura.xpaths")
    infinite, elementor = xpaths.RAW_TREE_PRUNE_XPATH
    (comments,) = xpaths.REMOVE_COMMENTS_AND_LISTS_XPATH
    seen = set()
    for name, html in PAGES:
        tree = parse_html(html)
        p = trafilatura_fast._prunes(tree)
        for flag, xpath, label in ((p.infinite, infinite, "infinite"), (p.elementor, elementor, "elementor"),
                                   (p.comments, comments, "comments")):
            assert flag or not xpath(tree), (name, label)
            seen.add((label, bool(xpath(tree))))
    assert {("infinite", True), ("elementor", True), ("comments", True)} <= seen


_ATTR = st.sampled_from(["", "comments", "Comment-list", "commentary", "post-comments", "comol",
                         "disqus_thread", "dsq-comments", "infinite-scroll", "infinitescroll",
                         "mvp-post-add-wrap", "elementor-share-buttons", "main", "x Comment"])


@settings(max_examples=200, deadline=None)
@given(tag=st.sampled_from(["div", "section", "aside", "ol", "ul", "details", "span"]),
       ident=st.one_of(st.none(), _ATTR), cls=st.one_of(st.none(), _ATTR), h1=st.booleans())
def test_prune_prefilter_on_attribute_mixes(tag: str, ident: str | None, cls: str | None, h1: bool) -> None:
    xpaths = importlib.import_module("trafilatura.xpaths")
    attrs = "".join(f' {k}="{v}"' for k, v in (("id", ident), ("class", cls)) if v is not None)
    tree = parse_html(f"<html><body><{tag}{attrs}>{'<h1>t</h1>' if h1 else ''}<p>text</p></{tag}></body></html>")
    p = trafilatura_fast._prunes(tree)
    infinite, elementor = xpaths.RAW_TREE_PRUNE_XPATH
    assert p.infinite or not infinite(tree)
    assert p.elementor or not elementor(tree)
    assert p.comments or not xpaths.REMOVE_COMMENTS_AND_LISTS_XPATH[0](tree)


def _check_bound(tree: etree._Element, page: etree._Element) -> None:
    """html2txt of `page` (a pruned copy of `tree`) is no longer than the bound; where it raises
    (form feed and the like in the text) the bound is infinite, so fast_body lets it raise."""
    from trafilatura.baseline import html2txt

    bound = trafilatura_fast._text_bound(tree)
    try:
        text = html2txt(page)
    except ValueError:
        assert bound == math.inf
        return
    assert len(text) <= bound


def test_text_bound_holds_on_pages() -> None:
    for _name, html in PAGES:
        tree = parse_html(html)
        _check_bound(tree, trafilatura_fast._pruned_page(tree, False, trafilatura_fast._prunes(tree)))


_PIECE = st.text(alphabet=st.sampled_from(["a", "b", " ", "\n", "\t", "\x07", "\x0c", "\x1f", "\x85", "é", "字"]),
                 max_size=6)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.tuples(st.sampled_from(["p", "div", "span", "b", "li", "br", "aside", "script", "footer"]),
                                _PIECE, _PIECE), max_size=8),
       nested=st.booleans())
def test_text_bound_on_random_markup(parts: list[tuple[str, str, str]], nested: bool) -> None:
    """Minified markup (no spaces between blocks), control characters, elements html2txt drops."""
    inner = "".join(f"<{t}>{a}</{t}>{b}" if t != "br" else f"<br>{b}" for t, a, b in parts)
    html = f"<html><body><div>x{inner}</div>{inner if nested else ''}</body></html>"
    tree = lxml.html.document_fromstring(html)
    _check_bound(tree, tree)


def _refuse_bare_extraction(*a, **kw):
    raise AssertionError("bare_extraction called")


def test_generic_fast_pass_skips_bare_extraction(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast pass no longer goes through `bare_extraction` (its copies and passes); any other
    trafilatura version still does."""
    import trafilatura

    html = _synthetic_pages()["comments"]
    expected = generic.body_blocks(_bare(parse_html(html), None))

    monkeypatch.setattr(trafilatura, "bare_extraction", _refuse_bare_extraction)
    assert generic._trafilatura(parse_html(html), None, fast=True) == expected
    monkeypatch.setattr(trafilatura_fast, "supported", lambda: False)
    assert generic._trafilatura(parse_html(html), None, fast=True) is None  # went to bare_extraction


def _walks():
    xpaths = importlib.import_module("trafilatura.xpaths")
    overall, hidden = xpaths.OVERALL_DISCARD_XPATH
    return ((lambda tree: [e for e in xpaths.BODY_XPATH[0](tree) if e is not None][:1], trafilatura_fast.first_body),
            (overall, trafilatura_fast.overall_discard), (hidden, trafilatura_fast.hidden_discard),
            (importlib.import_module("trafilatura.settings").BASIC_CLEAN_XPATH, trafilatura_fast.basic_clean),
            (xpaths.REMOVE_COMMENTS_AND_LISTS_XPATH[0], trafilatura_fast.comment_containers))


def test_walks_equal_xpaths_on_pages() -> None:
    """The Python walks select what trafilatura's XPaths select, on the page as given and as
    trafilatura's cleaning and tag conversion leave it (where its extractor reads them)."""
    from trafilatura.htmlprocessing import convert_tags, tree_cleaning

    options = trafilatura_fast.options_for(None)
    hits = [0] * len(_walks())
    for name, html in PAGES:
        tree = parse_html(html)
        cleaned = convert_tags(tree_cleaning(parse_html(html), options), options, None)
        for i, (xpath, walk) in enumerate(_walks()):
            for t in (tree, cleaned):
                found = xpath(t)
                assert walk(t) == found, (name, i)
                hits[i] += bool(found)
    assert all(hits), hits


_TAGS = ["div", "section", "article", "main", "p", "span", "list", "item", "aside", "ul", "ol", "details", "footer",
         "svg", "b"]
_KEYS = ["id", "class", "style", "role", "itemprop", "aria-hidden", "data-component", "data-lp-replacement-content"]
_VALUES = ["", "post", "entry", "articleBody", "articleContent", "article-body", "x article__content",
           "cookie-bar", "share-tools", "Nav", "NAVIGATION", "menu", "ad-slot", "x ad y", "meta", "reply-1",
           "hidden", "display:none", "display: none;", "true", "akismet", "hide-me", "x hidden", "MostPopularStories",
           "commentary", "comments", "Comment-list", "comol", "disqus_thread", "x dsq-comments", "post-comments",
           "x article-comments", "commentsary", "shared", "Byline", "embed", "page-footer", "Cookie_Banner", "x onetrust", "NOTICE--cookie"]


@settings(max_examples=400, deadline=None)
@given(elems=st.lists(st.tuples(st.sampled_from(_TAGS),
                                 st.lists(st.tuples(st.sampled_from(_KEYS), st.sampled_from(_VALUES)), max_size=4),
                                 st.booleans()), min_size=1, max_size=5))
def test_walks_equal_xpaths_on_attribute_mixes(elems: list[tuple[str, list[tuple[str, str]], bool]]) -> None:
    """Attributes in any source order (`@id|@class` is the first of them), present but empty,
    missing; nested or not."""
    root = lxml.html.document_fromstring("<html><body><div>x</div></body></html>")
    parent = root.find("body")
    for tag, attrs, nest in elems:
        el = etree.SubElement(parent, tag)
        for k, v in attrs:
            el.set(k, v)
        el.text = "t"
        parent = el if nest else parent
    for xpath, walk in _walks():
        assert walk(root) == xpath(root)


def _bare_full(tree: etree._Element, url: str | None) -> etree._Element | None:
    from trafilatura import bare_extraction

    doc = bare_extraction(tree, url=url, include_comments=False, include_tables=True,
                          include_images=False, include_links=False, deduplicate=False,
                          with_metadata=False, fast=False, output_format="txt")
    return None if doc is None else doc.body


def test_full_body_equals_bare_extraction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Full mode rebound: the same body as `bare_extraction(fast=False)`, jusText taken (with the
    stoplist of all languages) and left out, and trafilatura's own stoplist never built."""
    external = importlib.import_module("trafilatura.external")

    def refuse():
        raise AssertionError("trafilatura's jt_stoplist_init called")

    ns = trafilatura_fast._rebound()["justext_rescue"].__globals__
    calls = []
    real = ns["try_justext"]
    monkeypatch.setitem(ns, "try_justext", lambda *a: calls.append(a[2]) or real(*a))
    for name, html in PAGES:
        tree = parse_html(html)
        before = etree.tostring(tree)
        with monkeypatch.context() as m:
            m.setattr(external, "JT_STOPLIST", None)
            m.setattr(external, "jt_stoplist_init", refuse)
            ours = _xml(trafilatura_fast.full_body(tree, "https://example.com/a"))
        assert etree.tostring(tree) == before, name
        assert ours == _xml(_bare_full(tree, "https://example.com/a")), name
    assert None in calls and len(calls) < len(PAGES)


def test_justext_stoplist_is_trafilaturas() -> None:
    """The same words as trafilatura's stoplist for a page of unknown language, as jusText's
    `define_stoplist` makes it a set; each word its own lowercase (so it needs no defining)."""
    from justext.core import define_stoplist
    from justext.utils import get_stoplist, get_stoplists

    ours = trafilatura_fast.justext_stoplist()
    theirs = define_stoplist(tuple({w for lang in get_stoplists() for w in get_stoplist(lang)}))
    assert ours == theirs and define_stoplist(ours) == ours
    assert trafilatura_fast._define_stoplist(ours) is ours
    assert trafilatura_fast._define_stoplist(("The", "a")) == {"the", "a"}


def test_generic_full_mode_goes_through_full_body(monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    html = _synthetic_pages()["short"]
    expected = generic.body_blocks(_bare_full(parse_html(html), None))

    monkeypatch.setattr(trafilatura, "bare_extraction", _refuse_bare_extraction)
    assert generic._trafilatura(parse_html(html), None, fast=False) == expected
