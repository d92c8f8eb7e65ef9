"""Every number the generic path decides by, in one place, each with what it means.

Sizes are in characters of normalized text unless said otherwise; shares are fractions (0..1).
Each was set on the two benchmarks of issue 3 (docs/EVAL.md); change one and run
`benchmarks/eval_full.sh` before and after.
"""

from __future__ import annotations

# --- choosing the path (cleaner.py) ----------------------------------------------------------
# A profile body holding less than this share of the page's <p> prose (and at least MISS_MIN_GAP
# characters less) is a selector that now hits a fragment: the template changed (issue 11).
MISS_SHARE = 0.3
MISS_MIN_GAP = 300
# Generic path: a noise-vocabulary match holding more than this share of the page's text is a
# wrapper around the article and stays (profile paths protect their body element instead).
GENERIC_NOISE_MAX_SHARE = 0.5
# A line repeated on the page is a widget: on the generic path only when it is at least this
# long (short repeats there are structure: recipe steps, table cells); ...
GENERIC_MIN_DUPLICATE = 100
# ... and only where at most this many different long texts repeat, each twice: more are the
# article's structure (meal plans, recurring interview questions; noise.structural_repeats).
GENERIC_MAX_WIDGET_REPEATS = 2
# ... on a profile's body, any repeat of at least this many characters.
PROFILE_MIN_DUPLICATE = 2

# --- trafilatura's result, second opinion (generic.py) --------------------------------------
LAYOUT_CELL_MIN_CHARS = 200  # a one-row table whose every cell holds this much <p> text (and a list
# in one of them) is a layout of columns, read as <div>s (generic.unwrap_layout_tables)
LAYOUT_ROW_MIN_CHARS = 500  # a table row's cell this long holding ...
LAYOUT_ROW_SHARE = 0.9  # ... this share of the row's text is the article; its sidebar cells go
SINGLE_BLOCK_DUMP = 300  # one block this long from fast mode is a whole-page dump, not an article
SHORT_SHARE = 0.15  # a result under this share of the page's <p> text is a fragment
SMALL_RESULT = 400  # a fast result this small gets the second opinion whatever the <p> text (issue 10)
SHELL_BODY_MIN = 1000  # characters of JSON-LD articleBody before it can stand in for the page ...
SHELL_SHARE = 0.3  # ... whose HTML gave under this share of it: a shell (script-rendered page)
LINK_MENU_MAX_CHARS = 200  # a result this short ...
LINK_MENU_MAX_UNLINKED = 20  # ... from a page with fewer characters outside links is a menu

# --- an article body split into same-class chunks (generic.merge_body_chunks) --------------
CHUNK_ANCHOR_MIN_CHARS = 80  # the first extracted paragraph this long locates our container
CHUNK_PROBE_CHARS = 30  # its first characters are searched for in the page
CHUNK_MIN_WORDS = 20  # a chunk with fewer word bigrams is not looked at
CHUNK_COVERED_SHARE = 0.5  # a chunk with this share of its bigrams already ours is ours
CHUNK_MIN_PROSE_SHARE = 0.7  # a new chunk is mostly <p> text ...
CHUNK_MAX_LINK_SHARE = 0.2  # ... and little link text
CHUNK_MAX_SHARE = 0.9  # chunks are looked for when the result holds less of the page's <p> text

# --- link teasers (generic.drop_link_teasers) ----------------------------------------------
TEASER_MAX_CHARS = 300  # a paragraph, heading or list item up to this long ...
TEASER_LINK_SHARE = 0.7  # ... that is this much link text is a teaser for another page
TEASER_MIN_LINK = 12  # its longest link is a headline, not keyword links (place names to topics)
TEASER_SENTENCE_WORDS = 3  # ... unless it is a sentence with this many words outside its links
SUBHEAD_PROSE_CHARS = 80  # a linked heading between two <p> this long (with a stop) is a subhead
CARD_MAX_CHARS = 300  # a box with one linked heading and at most this much text is a teaser card ...
CARD_MIN_SIBLINGS = 3  # ... when this many sibling boxes of its kind are cards too
LIST_MAX_LINK_SHARE = 0.5  # a list under this share of link text ...
LIST_SENTENCE_WORDS = 8  # ... with an item that is a sentence of this many unlinked words is the
# article's list: its linked items stay (generic._article_list)
LOOSE_MIN_CHARS = 80  # loose text this long after a block is a paragraph (generic.wrap_loose_text)

# --- headings and lists between two extracted paragraphs (gaps.fill_gaps) ----------------
GAP_MAX_LINK_SHARE = 0.5  # a list this much link text (related stories) is not put back
GAP_MAX_SIBLINGS = 20  # elements looked at between two paragraphs (more: no gap, a bounded walk)

# --- embedded photo galleries (generic.drop_slideshows) ------------------------------------
SLIDESHOW_MIN_SLIDES = 3  # sibling items counted "1/N", "2/N", "3/N" (N at least this) are slides

# --- the page's own articleBody votes (refine.vote_article_body) ---------------------------
CJK_SAMPLE = 2000  # CJK-ness of a text is read on its first characters (texts can be long)
VOTE_MIN_COVER = 0.6  # articleBody must hold this share of our words to be trusted as a voter
VOTE_MIN_SIZE = 0.5  # ... and be at least half our length (not a teaser-sized summary)
VOTE_BLOCK_SHARE = 0.5  # a block with less than this share of its words in articleBody goes
VOTE_MIN_BLOCK_TOKENS = 3  # blocks with fewer tokens are too short to judge and stay

# --- readability's vote on the lines around the prose (readability_vote.py) ----------------
VOTE_EDGE_MIN_CHARS = 20  # non-prose text before the first / after the last prose line worth a vote
VOTE_CLEAR_SHARE = 0.05  # Latin-script prose with less votable text than this share around it: no vote
VOTE_HEAD_COVER = 0.6  # readability's article holds this share of our prose: it votes above it ...
VOTE_PROSE_COVER = 0.95  # ... and this share: it votes below it too
VOTE_TITLE_MIN_CHARS = 8  # a line holding a title this long is left to layout.py / drop_headline

# --- trailing boilerplate (refine.trim_tail) -----------------------------------------------
TAIL_MAX_BLOCKS = 12  # at most this many blocks are taken off the end
TAIL_MAX_CHARS = 300  # a promo/credit/copyright line is at most this long
FRAGMENT_MAX_CHARS = 60  # a line shorter than this without a sentence end is a fragment

# --- dates, bylines, headline copies, labels (refine) --------------------------------------
EDGE_HEAD = 3  # date and byline lines are looked for in the first ...
EDGE_TAIL = 2  # ... and last blocks only
DATELINE_MAX_CHARS = 60  # a date line is at most this long ...
DATELINE_MIN_DIGITS = 4  # ... and holds at least this many digits
SOURCE_LINE_MAX_CHARS = 80  # a dated "来源:" (source outlet) line is at most this long
BYLINE_MAX_CHARS = 80  # a byline is at most this long
HEADLINE_MAX_CHARS = 250  # a block longer than this is never the title printed again
HEADLINE_SEARCH_BLOCKS = 3  # the title's copy is looked for among the first blocks
TITLE_MIN_KEY = 15  # a partial title match needs this many letters in common ...
TITLE_OVERLAP_SHARE = 0.6  # ... and the shorter at least this share of the longer
LABEL_MAX_CHARS = 200  # "Read also:" labels and credit lines are at most this long
DOUBLED_MIN_CHARS = 20  # "Title Title" (a teaser headline printed twice): between these ...
DOUBLED_MAX_CHARS = 300  # ... lengths

# --- the printed lead (refine.find_lead / add_lead) ----------------------------------------
LEAD_MIN_CHARS = 40  # shorter descriptions are not looked for in the page
LEAD_PRESENT_SHARE = 0.8  # a lead whose bigrams are this much in our text is already there
STANDFIRST_WITHIN = 3  # blocks: a printed description among the first ones is the standfirst

# --- readers' comments (refine.cut_comments) ----------------------------------------------
COMMENTS_AFTER = 100  # a paragraph this long must come before a comments heading can end the text
NOTICE_MAX_CHARS = 30  # ... or the heading of a legal notice (refine.cut_notices), at most this long
ENTRY_SEPARATOR_MAX_CHARS = 12  # a line this short printed after each dated entry ...
ENTRY_MIN = 3  # ... at least this many times ends the first entry (refine.first_entry)

# --- hand-made table layouts (layout.py) ----------------------------------------------------
LISTING_RUN = 4  # this many non-prose lines in a row, ...
LISTING_LINES = 3  # ... of which this many are table rows or dated lines, end the article
CELL_PROSE_SHARE = 0.5  # the content cell holds at least this share of the page's prose
DUMP_OUTSIDE_SHARE = 0.05  # a generic result with this share of text from outside the cell
DUMP_MERGED = 200  # characters beyond the title in one block that also holds the title
TAIL_SHARE = 0.5  # listings cut from a trafilatura result: at most this share of what stays
RESUME_SHARE = 0.3  # prose after a listing run, as a share of the prose before: the run is inside
RESUME_PARAGRAPH = 80  # only paragraphs this long count as the article going on ...
RESUME_CHARS = 400  # ... or this much of them (a long article's closing section) (issue 10)
ENTRY_RUN_STAMPS = 3  # a line holding this many date-time stamps ...
ENTRY_RUN_SPACING = 100  # ... one per this many characters at least, is a list of dated entries
PROSE_MIN_CJK_CHARS = 12  # a CJK line with a sentence stop this long is prose ...
PROSE_MIN_WORDS = 6  # ... a Latin-script line ending a sentence needs this many words
