"""trafilatura's author XPaths, evaluated in one walk of the page instead of on a pruned copy.

`trafilatura.metadata.extract_author` copies the page, deletes from the copy what its discard
XPaths match (comments, sidebars, quotes, `time`, `figure`...), then runs three XPaths and takes
the text of the first element giving 3 to 119 characters. On news pages that cost 12 ms a call
(the copy, and libxml2 testing a dozen attributes and the children of every element, EXSLT
regular expressions calling back into Python): 8% of cleaning the fundus pages whose metadata
names nobody (issue 10).

Here one walk of the page tests every element against the same conditions (trafilatura 2.3.1's,
the regular expressions unchanged) and finds what the deletions would take. Deleting only
removes: an element matches in the copy when it matches in the page and is not inside a deleted
element, and its text there is its text in the page unless a deleted element is inside it. That
last case, and a page with a `<rel>` element (the first XPath tests a child named `rel`), go to
trafilatura's own function, so the answer is always trafilatura's. tests/test_byline_xpaths.py
holds trafilatura's expressions (it fails when they change) and compares the two on pages.
"""

from __future__ import annotations

import re

from lxml import etree

# AUTHOR_XPATHS[0]: specific markers (and any <author> element)
_FIRST_TAGS = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_FIRST_CLASS = re.compile("author-?name|AuthorName|authorName")
# AUTHOR_XPATHS[1]: generic markers
_SECOND_TAGS = frozenset({"a", "div", "h3", "h4", "p", "span"})
_SECOND_ID = re.compile("author|zuozhe|bianji|xiaobian")
_SECOND_CLASS = re.compile("author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name")
# AUTHOR_XPATHS[2]: any element
_THIRD_ID = re.compile("[Aa]uthor")
_THIRD_CLASS = re.compile("[Aa]uthor|screenname|writer|[Bb]yline")
# AUTHOR_DISCARD_XPATHS: deleted from the copy first (the first below the root only)
_DISCARD_TAGS = frozenset({"a", "div", "section", "span"})
_DISCARD_ID = re.compile("^comments|comment-?list|ProductReviews")
_DISCARD_CLASS = re.compile(
    "^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
    "article-(?:share|support)|print|category|meta-date|meta-reviewer")
_ALWAYS_DISCARDED = frozenset({"time", "figure"})
LEN_LIMIT = 120  # extract_author's len_limit


def _scan(root: etree._Element) -> tuple[list[list[etree._Element]], set[etree._Element]] | None:
    """The elements each author XPath matches in the page, and the roots of what the discard
    XPaths delete; None for a page this walk does not model (a `<rel>` element)."""
    found: list[list[etree._Element]] = [[], [], []]
    first, second, third = found
    dropped: set[etree._Element] = set()
    for el in root.iter(etree.Element):
        tag = el.tag
        if tag == "rel":
            return None
        get = el.get
        cls, id_ = get("class"), get("id")
        itemprop, component = get("itemprop"), get("data-component")
        if el is not root and (tag in _ALWAYS_DISCARDED or tag in _DISCARD_TAGS and (
                id_ == "comments" or cls in ("comments", "title", "date")
                or (id_ is not None and _DISCARD_ID.search(id_))
                or (cls is not None and _DISCARD_CLASS.search(cls))
                or (component is not None and "Figure" in component))):
            dropped.add(el)
        if tag == "author" or tag in _FIRST_TAGS and (
                get("rel") == "author" or id_ == "author" or cls == "author"
                or itemprop == "author name" or get("data-testid") in ("AuthorCard", "AuthorURL")
                or (cls is not None and _FIRST_CLASS.search(cls))):
            first.append(el)
        if tag in _SECOND_TAGS and (
                cls in ("byline", "username", "byl", "BBL")
                or (itemprop is not None and "author" in itemprop)
                or (id_ is not None and _SECOND_ID.search(id_))
                or (cls is not None and _SECOND_CLASS.search(cls))):
            second.append(el)
        if ((component is not None and "Byline" in component)
                or (itemprop is not None and "author" in itemprop)
                or (id_ is not None and _THIRD_ID.search(id_))
                or (cls is not None and _THIRD_CLASS.search(cls))):
            third.append(el)
    return found, dropped


def extract_author(root: etree._Element) -> str | None:
    """`trafilatura.metadata.extract_author(root)`, the same answer without copying the page."""
    from trafilatura.metadata import extract_author as trafilatura_author
    from trafilatura.metadata import normalize_authors
    from trafilatura.utils import trim

    scanned = _scan(root)
    if scanned is None:
        return trafilatura_author(root)
    found, dropped = scanned
    holders: set[etree._Element] = set()  # the elements a deleted one is inside
    for d in dropped:
        holders.update(d.iterancestors())
    for matches in found:
        for el in matches:
            if el in dropped or any(a in dropped for a in el.iterancestors()):
                continue  # deleted with the discarded part of the copy
            if el in holders:
                return trafilatura_author(root)  # its text in the copy lost a part: ask trafilatura
            content = trim(" ".join(el.itertext()))
            if content and 2 < len(content) < LEN_LIMIT:
                return normalize_authors(None, content)
    return None
