"""Trafilatura's fast mode on a tree we own, without the work whose result we discard (issue 10).

`bare_extraction(tree, fast=True, ...)` is 44% of the generic path's time. For our options
(comments, metadata, dedup, language filter all off) this module runs the same steps in the same
order as trafilatura 2.3.1's `bare_extraction` + `trafilatura_sequence`, calling its own functions,
and leaves out only what cannot change the body it returns:

- the backup copy of the cleaned tree (`_prepare_tree`): only full mode and comment capture
  read it;
- the copy of the pruned page kept for the rescue steps (baseline, recall escalation): the
  cleaning works on the pruned page itself, and the pruned page is made again from the caller's
  tree only when a rescue step asks for it (short results);
- the raw-tree prunes (XPaths testing every div/section/list, with EXSLT regexes calling back
  into Python per element) on pages where they cannot match: every match holds a substring
  (`infinite`, `omment`...) that no @id or @class of the page holds;
- html2txt of the page (a copy and a regex XPath, 3.6 ms) for the recall escalation, where a
  bound on its length says the result is not under a fifth of it (`_text_bound`);
- the options object, built once per process and copied (its config lookups cost 0.5 ms a call);
- four XPaths that call EXSLT regexes back in Python for each candidate element (its main
  extractor's first article container and two boilerplate discards, about a third of its time;
  html2txt's and the baseline's cleaning, 10 ms on a large page) are answered by Python walks
  with the same regexes and the same attribute rules; trafilatura's own functions that read them
  run unchanged, bound to a copy of their module's namespace holding the walks (`_rebound`).

Full mode (`full_body`, the second opinion on a suspicious fast result, ~3 of 185 pages) is
trafilatura's own `bare_extraction`, rebound the same way: the walks, and jusText's stoplist of all
languages built once a file at a time (trafilatura built it word by word, and jusText lowercased it
again: 0.16 s on the first page that asks jusText, about 1 in 20).

Everything trafilatura decides is still decided by its code. The functions replicated here are
pinned: `tests/test_trafilatura_fast.py` fails when the installed trafilatura's source of them or
its XPaths differ from what this was written against, and any other version takes the public
`bare_extraction` (same output, slower).
"""

from __future__ import annotations

import inspect
import logging
import math
import re
from collections.abc import Callable
from copy import copy
from dataclasses import dataclass
from functools import cache
from typing import Any

from lxml import etree

log = logging.getLogger(__name__)

# The trafilatura versions whose internals this module replicates (source checked by the test).
TESTED_VERSIONS = ("2.3.1",)

# Substrings of @id / @class that every match of trafilatura's raw-tree prunes must hold: its
# RAW_TREE_PRUNE_XPATH ('mvp-post-add-(?:box|wrap)|infinite-?scroll' on @id or @class;
# contains(@class, 'elementor-share-buttons')) and REMOVE_COMMENTS_AND_LISTS_XPATH
# ('^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)' on @id,
# '^[Cc]omment(?!ary)|(?:article|post)-comments' on @class).
_INFINITE_HINTS = ("mvp-post-add-", "infinite")
_ELEMENTOR_HINT = "elementor-share-buttons"
_COMMENT_HINTS = ("omment", "comol", "disqus_thread")
# Characters lxml refuses in text it is given (C0 controls but tab, newline and carriage return;
# and, to be safe, DEL, U+FFFE, U+FFFF): html2txt moves and rewrites text, so it raises
# ValueError on a page holding one (bare_extraction then returns None). Our parse strips most of
# them, not form feed.
_UNSETTABLE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class _Prunes:
    """Which of trafilatura's raw-tree prunes may match anything on the page."""

    infinite: bool
    elementor: bool
    comments: bool


_IDS = etree.XPath("descendant-or-self::*/@id", smart_strings=False)
_CLASSES = etree.XPath("descendant-or-self::*/@class", smart_strings=False)


def _prunes(tree: etree._Element) -> _Prunes:
    """Substring tests on the page's @id and @class values, joined (one C walk each: cheaper
    than one XPath walk per prune, and than the EXSLT regexes calling back into Python for
    every candidate element). The hints hold no newline, so none spans two values."""
    classes = "\n".join(_CLASSES(tree))
    both = "\n".join(_IDS(tree)) + "\n" + classes
    return _Prunes(infinite=any(h in both for h in _INFINITE_HINTS),
                   elementor=_ELEMENTOR_HINT in classes,
                   comments=any(h in both for h in _COMMENT_HINTS))


def _first_of(el: etree._Element, a: str, b: str, va: str | None, vb: str | None) -> str | None:
    """XPath's string of `@a|@b`: the value of whichever attribute comes first in the source."""
    if va is None or vb is None:
        return vb if va is None else va
    for key in el.keys():
        if key == a:
            return va
        if key == b:
            return vb
    return None


@cache
def _patterns() -> dict[str, re.Pattern[str]]:
    """trafilatura's own alternations (xpaths.py), compiled as lxml's EXSLT `re:test` does."""
    import importlib

    xp = importlib.import_module("trafilatura.xpaths")
    alt = xp._alt
    return {
        "body_id": re.compile(alt(xp._ARTICLE_CONTENT_ID_TOKENS)),
        "body_class": re.compile(alt(xp._ARTICLE_CONTENT_CLASS_TOKENS)),
        "cookie": re.compile(alt(xp._CONSENT_ID_CLASS_TOKENS)),
        "discard_id": re.compile(alt(xp._OVERALL_DISCARD_BOTH_TOKENS + xp._OVERALL_DISCARD_ID_TOKENS)),
        "discard_class": re.compile(alt(xp._OVERALL_DISCARD_BOTH_TOKENS + xp._OVERALL_DISCARD_CLASS_TOKENS)),
        "hidden_id": re.compile("reader-comments|akismet"),
        # lxml's EXSLT re:test with the 'i' flag: re.IGNORECASE
        "cookie_banner": re.compile(importlib.import_module("trafilatura.settings")._COOKIE_CONSENT_RE, re.I),
        "hidden_class": re.compile("^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links"
                                   "|-hide-|hide-print| hidden| hide|noprint|notloaded"),
    }


def first_body(tree: etree._Element) -> list[etree._Element]:
    """BODY_XPATH[0]'s first element (the only one `_extract` reads), or none: the first
    article/div/main/section under `tree` named as an article's content container."""
    pat = _patterns()
    body_id, body_class = pat["body_id"].search, pat["body_class"].search
    for el in tree.iter("article", "div", "main", "section"):
        if el is tree:
            continue
        get = el.get
        cls, ident = get("class"), get("id")
        if (cls == "post" or cls == "entry" or get("itemprop") == "articleBody" or ident == "articleContent"
                or (ident is not None and body_id(ident)) or (cls is not None and body_class(cls))):
            return [el]
    return []


def overall_discard(tree: etree._Element) -> list[etree._Element]:
    """OVERALL_DISCARD_XPATH[0]'s elements, in document order: navigation, share, ad, related,
    meta... containers by their role, id or class."""
    pat = _patterns()
    cookie, discard_id, discard_class = pat["cookie"].search, pat["discard_id"].search, pat["discard_class"].search
    out = []
    for el in tree.iter("div", "item", "list", "p", "section", "span"):
        if el is tree:
            continue
        get = el.get
        cls, ident, role, component = get("class"), get("id"), get("role"), get("data-component")
        if (get("data-lp-replacement-content") is not None
                or (role is not None and "nav" in role.replace("N", "n"))
                or (component is not None and "MostPopularStories" in component)
                or cookie(_first_of(el, "id", "class", ident, cls) or "")
                or (ident is not None and discard_id(ident))
                or (cls is not None and discard_class(cls))):
            out.append(el)
    return out


def hidden_discard(tree: etree._Element) -> list[etree._Element]:
    """OVERALL_DISCARD_XPATH[1]'s elements, in document order: hidden elements, reply and
    comment-title blocks."""
    pat = _patterns()
    hidden_id, hidden_class = pat["hidden_id"].search, pat["hidden_class"].search
    out = []
    for el in tree.iter(etree.Element):
        if el is tree:
            continue
        get = el.get
        cls, ident, style = get("class"), get("id"), get("style")
        if cls is None and ident is None and style is None:
            if get("aria-hidden") == "true":
                out.append(el)
            continue
        first_ic = _first_of(el, "id", "class", ident, cls)
        first_is = _first_of(el, "id", "style", ident, style)
        if (cls == "comments-title" or (first_ic is not None and first_ic.startswith("reply-"))
                or (first_is is not None and "hidden" in first_is)
                or (style is not None and ("display:none" in style or "display: none" in style))
                or (ident is not None and hidden_id(ident))
                or (cls is not None and hidden_class(cls))
                or get("aria-hidden") == "true"):
            out.append(el)
    return out


# REMOVE_COMMENTS_AND_LISTS_XPATH's regular expressions (trafilatura/xpaths.py, pinned by the test)
_COMMENT_ID = re.compile("^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)")
_COMMENT_LIST_ID = re.compile("^(?:[Cc]omment(?!ary)|comol)")
_COMMENT_CLASS = re.compile("^[Cc]omment(?!ary)|(?:article|post)-comments")


def comment_containers(tree: etree._Element) -> list[etree._Element]:
    """REMOVE_COMMENTS_AND_LISTS_XPATH's elements, in document order: comment sections (and
    comment lists, `ol`/`ul`, by a narrower id), pruned from the page when comments are off.
    Its EXSLT regexes called back into Python for every div, section and list of the page."""
    out = []
    for el in tree.iter("div", "list", "section", "details", "ol", "ul"):
        if el is tree:
            continue
        get = el.get
        ident, cls = get("id"), get("class")
        if ident is None and cls is None:
            continue
        by_class = cls is not None and _COMMENT_CLASS.search(cls) is not None
        if not by_class and (ident is None or not _COMMENT_ID.search(ident)):
            continue
        if el.tag in ("ol", "ul") and not by_class and not _COMMENT_LIST_ID.search(ident or ""):
            continue
        out.append(el)
    return out


_BASIC_CLEAN_TAGS = frozenset(("aside", "fencedframe", "footer", "script", "style", "svg", "template"))


def basic_clean(tree: etree._Element) -> list[etree._Element]:
    """BASIC_CLEAN_XPATH's elements, in document order: asides, footers, scripts... and cookie
    banners (html2txt's and the baseline's cleaning)."""
    cookie = _patterns()["cookie_banner"].search
    out = []
    for el in tree.iter(etree.Element):
        if el is tree:
            continue
        tag = el.tag
        if tag in _BASIC_CLEAN_TAGS:
            out.append(el)
            continue
        get = el.get
        cls, ident = get("class"), get("id")
        if cls is None and ident is None:
            continue
        if ((tag == "div" and "footer" in (_first_of(el, "class", "id", cls, ident) or ""))
                or (cls is not None and cookie(cls)) or (ident is not None and cookie(ident))):
            out.append(el)
    return out


class _Stoplist(frozenset):
    """The stoplist of all languages (a type of its own, so `_define_stoplist` knows it)."""


@cache
def justext_stoplist() -> frozenset[str]:
    """The words of all of jusText's stoplists, lowercased: what trafilatura's `jt_stoplist_init`
    gathers (as a tuple, 0.09 s) for a page of unknown language, and jusText's `define_stoplist`
    then lowercases again into a frozenset (0.065 s; cached). Read a file at a time (one decode
    and one `lower()` a file, not a word): the same words (`tests/test_trafilatura_fast.py`) in
    0.06 s, once per process, on the first page that asks jusText (issue 10)."""
    import pkgutil

    from justext.utils import get_stoplists

    words: set[str] = set()
    for language in get_stoplists():
        data = pkgutil.get_data("justext", f"stoplists/{language}.txt") or b""
        words.update(data.decode("utf-8").lower().splitlines())
    return _Stoplist(words)


def _define_stoplist(stoplist: Any) -> frozenset[str]:
    """jusText's `define_stoplist`, which returns `justext_stoplist()` as it is (every word of it
    is its own lowercase: the test checks)."""
    from justext.core import define_stoplist

    return stoplist if isinstance(stoplist, _Stoplist) else define_stoplist(stoplist)


# trafilatura's functions that read the XPaths answered above, directly or through each other;
# and full mode's path to jusText (`bare_extraction` for a second opinion), to give it the
# stoplist above
_REBOUND = {
    "trafilatura.main_extractor": ("extract_content", "_extract", "prune_unwanted_sections", "recover_wild_text"),
    "trafilatura.baseline": ("basic_cleaning", "html2txt", "baseline"),
    "justext.core": ("classify_paragraphs",),
    "trafilatura.external": ("compare_extraction", "justext_rescue", "try_justext"),
    "trafilatura.core": ("bare_extraction", "trafilatura_sequence", "_extract_and_compare", "_recall_retry"),
}


@cache
def _rebound() -> dict[str, Callable[..., Any]]:
    """trafilatura's functions in `_REBOUND`: their code unchanged, bound to a copy of their
    module's namespace where BODY_XPATH[0], OVERALL_DISCARD_XPATH, BASIC_CLEAN_XPATH and
    REMOVE_COMMENTS_AND_LISTS_XPATH are the walks above, jusText's stoplist for all languages is `justext_stoplist()`, and each of the
    functions is its rebound copy. trafilatura and jusText themselves are left as they are."""
    import importlib
    import types

    discard = [overall_discard, hidden_discard]
    walks = {
        "trafilatura.main_extractor": lambda me: {
            "BODY_XPATH": [first_body, *me.BODY_XPATH[1:]], "OVERALL_DISCARD_XPATH": discard},
        "trafilatura.baseline": lambda _: {"BASIC_CLEAN_XPATH": basic_clean},
        "justext.core": lambda _: {"define_stoplist": _define_stoplist},
        # JT_STOPLIST stays None: `try_justext` then asks `jt_stoplist_init`, here ours
        "trafilatura.external": lambda _: {"OVERALL_DISCARD_XPATH": discard, "jt_stoplist_init": justext_stoplist},
        "trafilatura.core": lambda _: {"REMOVE_COMMENTS_AND_LISTS_XPATH": [comment_containers]},
    }
    out: dict[str, Callable[..., Any]] = {}
    clones: dict[Any, Callable[..., Any]] = {}
    namespaces = []
    for module_name, names in _REBOUND.items():
        module = importlib.import_module(module_name)
        ns = dict(vars(module))
        ns.update(walks[module_name](module))
        namespaces.append(ns)
        for name in names:
            fn = getattr(module, name)
            clone = types.FunctionType(fn.__code__, ns, fn.__name__, fn.__defaults__, fn.__closure__)
            clone.__kwdefaults__ = fn.__kwdefaults__
            clones[fn] = out[name] = clone
    # every namespace calls the copies, whichever module they come from
    for ns in namespaces:
        for key, value in ns.items():
            if inspect.isfunction(value) and value in clones:
                ns[key] = clones[value]
    return out


@cache
def supported() -> bool:
    """Whether the installed trafilatura is one this module was checked against."""
    import trafilatura

    return trafilatura.__version__ in TESTED_VERSIONS


@cache
def _base_options():
    """Our extraction options (as `bare_extraction` builds them from our keywords), once."""
    from trafilatura.settings import Extractor

    return Extractor(output_format="txt", fast=True, comments=False, tables=True, images=False,
                     links=False, dedup=False, with_metadata=False)


# Our options of `bare_extraction` (full mode here, and the fallback on other trafilatura
# versions): "txt" keeps the body tree but skips its conversion to text, which we do not use.
BARE_OPTIONS: dict[str, Any] = {
    "include_comments": False, "include_tables": True, "include_images": False, "include_links": False,
    "deduplicate": False, "with_metadata": False, "output_format": "txt",
}


def full_body(tree: etree._Element, url: str | None) -> etree._Element | None:
    """The body of `bare_extraction(tree, url=url, fast=False, ...)` with our options: full
    mode, the second opinion on a suspicious fast result. trafilatura's own function, rebound
    (the walks above, and jusText's stoplist built once, not rebuilt at every call)."""
    doc = _rebound()["bare_extraction"](tree, url=url, fast=False, **BARE_OPTIONS)
    return None if doc is None else doc.body


def options_for(url: str | None):
    """The options for one page: the shared ones with this page's URL."""
    options = copy(_base_options())
    options.url = url
    options.source = url and url.encode("utf-8", "replace").decode("utf-8")
    return options


def _pruned_page(tree: etree._Element, is_forum: bool, prunes: _Prunes) -> etree._Element:
    """A copy of the page with trafilatura's raw-tree prunes applied (comments off), each run
    only where `prunes` says it may match (a copy of a page holds no value the page lacks)."""
    from trafilatura.htmlprocessing import prune_unwanted_nodes
    from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH

    page = copy(tree)
    infinite, elementor = RAW_TREE_PRUNE_XPATH
    if prunes.infinite:
        prune_unwanted_nodes(page, [infinite])
    if prunes.elementor:
        prune_unwanted_nodes(page, [elementor])
    # comments off, balanced focus: comment containers go unless the page is a forum thread
    if not is_forum and prunes.comments:
        prune_unwanted_nodes(page, [comment_containers])  # REMOVE_COMMENTS_AND_LISTS_XPATH
    return page


def _text_bound(tree: etree._Element) -> float:
    """At least `len(html2txt(page))` for any pruned copy of `tree` (also checked on pages by
    `tests/test_trafilatura_fast.py`). html2txt joins the words of the body's text (a part of
    the page's text) after deleting elements (never adding text: a kept tail stays where it
    was) and control characters, and putting a space before the text and the tail of each block
    element; deleting characters never lengthens the joined words, and each space lengthens
    them by one at most."""
    from trafilatura.baseline import _BLOCK_ELEMS

    text = tree.text_content()
    if _UNSETTABLE_RE.search(text):
        return math.inf  # html2txt raises ValueError there: let it, as trafilatura does
    return len(text) + 2 * sum(1 for _ in tree.iter(*_BLOCK_ELEMS))


def fast_body(tree: etree._Element, url: str | None) -> etree._Element | None:
    """The body `bare_extraction(tree, url=url, fast=True, include_comments=False,
    include_tables=True, include_images=False, include_links=False, deduplicate=False,
    with_metadata=False)` returns, or None where it returns None. `tree` is left untouched."""
    from trafilatura.core import (
        ESCALATION_ACCEPT_RATIO,
        ESCALATION_MAX_LENGTH,
        ESCALATION_PAGE_SHARE,
        _forum_thread_page,
        _recall_retry,
    )
    from trafilatura.htmlprocessing import convert_tags, tree_cleaning

    rebound = _rebound()
    extract_content, baseline, html2txt = rebound["extract_content"], rebound["baseline"], rebound["html2txt"]
    options = options_for(url)
    try:
        is_forum = _forum_thread_page(tree)
        prunes = _prunes(tree)
        # cleaned in place: the pruned page is made again below only if a rescue step needs it
        cleaned = convert_tags(tree_cleaning(_pruned_page(tree, is_forum, prunes), options), options, url)
        postbody, temp_text = extract_content(cleaned, options)
        page = None
        # 3. rescue: baseline on the pruned page, accepted only if it adds text
        if len(temp_text) < options.min_extracted_size:
            page = _pruned_page(tree, is_forum, prunes)
            b_body, b_text, b_len = baseline(page)
            if b_len > len(temp_text):
                postbody, temp_text = b_body, b_text
        # 4. recall escalation of a short result covering little of the page (no justext: fast);
        # html2txt (a copy and a regex XPath, 3.6 ms) only when the page may be 5x the result
        if (0 < len(temp_text) < ESCALATION_MAX_LENGTH
                and len(temp_text) < ESCALATION_PAGE_SHARE * _text_bound(tree)):
            page = page if page is not None else _pruned_page(tree, is_forum, prunes)
            if len(temp_text) < ESCALATION_PAGE_SHARE * len(html2txt(page)):
                r_options = copy(options)
                r_options.focus = "recall"
                r_text = ""
                try:
                    r_body, r_text = _recall_retry(page, r_options, url)
                except Exception as err:  # as trafilatura does
                    log.warning("recall retry failed: %s %s", err, url)
                r_len = len(r_text)
                if r_len >= options.min_extracted_size and r_len > ESCALATION_ACCEPT_RATIO * len(temp_text):
                    postbody, temp_text = r_body, r_text
        # bare_extraction's size checks (no comments: their length is 0)
        if options.max_tree_size and len(postbody) > options.max_tree_size:
            etree.strip_tags(postbody, "hi")
            if len(postbody) > options.max_tree_size:
                return None
        if len(temp_text) < options.min_output_size and 0 < options.min_output_comm_size:
            return None
    except (TypeError, ValueError):  # bare_extraction's "discarding data"
        return None
    return postbody
