"""Failure classes of the generic path on pages it was never tuned on (issue 10)."""

from __future__ import annotations

from kirinuki.pipelines.blocks import Block
from kirinuki.pipelines.generic import suspicious


def test_tiny_fast_result_gets_a_second_opinion():
    # A page whose text sits in headings and short lines between math blocks: its <p> text is
    # as small as the fast result, which the <p> share alone calls complete.
    assert suspicious([Block("paragraph", "x" * 148)], prose=152)
    assert not suspicious([Block("paragraph", "x" * 900), Block("paragraph", "y" * 900)], prose=2000)


def test_shell_page_falls_back_to_jsonld_article_body():
    import json

    from kirinuki.pipelines import Page, clean

    paras = [f"Paragraph {i} of the article tells what happened in the harbour on the night of the storm." * 2
             for i in range(8)]
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Storm night",
          "articleBody": "\n".join(paras)}
    page = ("<html><head><title>Storm night</title><script type='application/ld+json'>" + json.dumps(ld)
            + "</script></head><body><div id='app'><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
            "<p>Loading the story, please wait while the page is prepared for you.</p></div></body></html>")
    r = clean(Page(url="https://example.org/storm", body=page.encode()), generic_only=True)[0]
    assert [b["text"] for b in r["blocks"]] == paras


def test_comments_heading_ends_the_text_once_the_article_has_begun():
    from collections import Counter

    from kirinuki.pipelines.refine import cut_comments

    para = Block("paragraph", "El fiscal se entrevistó ayer con su superior para analizar el auto del juez. " * 2)
    blocks = [Block("list_item", "941 comments"), para, para, Block("heading", "Comentar"),
              Block("list_item", "El contenido de los comentarios es la opinión de los usuarios."),
              Block("paragraph", "Hace 28 minutos")]
    removed: Counter[str] = Counter()
    assert cut_comments(blocks, removed) == blocks[:3]  # the count link above the article stays
    assert removed["comment"] == 3


def test_repeats_that_are_the_articles_structure_stay():
    from collections import Counter

    from kirinuki.pipelines.noise import filter_lines

    quote = Block("paragraph", "The harbour master said the storm was the worst he had seen in forty years of work. " * 2)
    other = Block("paragraph", "Ferries were held in port until the wind dropped below gale force on Tuesday evening. " * 2)
    # One paragraph printed twice is a pull quote: its copy goes.
    assert filter_lines([quote, other, quote], [], Counter(), 100, 2) == [quote, other]
    # A text printed three times (a meal plan's recurring line) is the article's structure.
    assert filter_lines([quote, other, quote, quote], [], Counter(), 100, 2) == [quote, other, quote, quote]
    # Many different long texts repeated (the same dishes in each day's plan): structure too.
    dishes = [Block("list_item", f"Dish {i}: 1 cup zucchini noodles, 4 oz. cooked chicken, 1 tsp. olive oil, "
                                 "green onions and chili sauce to taste.") for i in range(3)]
    assert filter_lines(dishes + dishes, [], Counter(), 100, 2) == dishes + dishes


def test_an_embedded_photo_gallery_is_not_the_article():
    from kirinuki.pipelines import Page, clean

    story = [f"<p>Paragraph {i} of the hotel story says what the receptionist will never tell you "
             "when you check in, according to the owners who answered online.</p>" for i in range(6)]
    slides = "".join(f"<li><h2><span class='counter'>{i}/12</span> Slide headline number {i}</h2>"
                     f"<p>Caption {i} of another business story: revenues dipped after the broadcasting and "
                     "sponsorship deals dried up, the club said in its annual report.</p>"
                     "<p class='credits'>GETTY IMAGES</p></li>" for i in range(1, 13))
    page = (f"<html><head><title>Hotel secrets</title></head><body><article><h1>Hotel secrets</h1>{''.join(story[:3])}"
            f"<div class='gallery'><h2>Business news in pictures</h2><ul class='legends'>{slides}</ul></div>"
            f"{''.join(story[3:])}</article></body></html>")
    r = clean(Page(url="https://example.org/hotels", body=page.encode()), generic_only=True)[0]
    assert "Caption" not in r["text"] and "Slide headline" not in r["text"]
    assert r["text"].count("Paragraph") == 6


def test_a_lead_printed_in_a_span_beside_the_headline_is_text():
    from kirinuki.pipelines import Page, clean

    lead = "The foundation set this year's fees at 18,000 lira at home and 7,000 lira abroad, its president said."
    body = "".join(f"<p>Paragraph {i}: the president spoke at the foundation's annual meeting in the capital, "
                   "where the organisation of the campaign was discussed at length.</p>" for i in range(6))
    page = (f"<html><head><title>Fees set</title><meta name='description' content='{lead} | Agency'>"
            f"<meta property='og:description' content=\"{lead}\"></head><body><header><div class='hero'>"
            f"<h1>Fees set</h1><span class='description'>{lead}</span></div></header>"
            f"<article><div class='content'>{body}</div></article></body></html>")
    r = clean(Page(url="https://example.org/fees", body=page.encode()), generic_only=True)[0]
    assert r["blocks"][0]["text"] == lead


def test_a_turkish_subscription_notice_at_the_end_goes():
    from collections import Counter

    from kirinuki.pipelines.refine import trim_tail

    para = Block("paragraph", "Arpaguş, Başkanlık Konferans Salonu'nda düzenlenen toplantıda konuştu ve bedelleri açıkladı.")
    notice = Block("paragraph", "Web sitesinde, haber akış sistemi üzerinden abonelere sunulan haberler, özetlenerek "
                                "yayımlanmaktadır. Abonelik için lütfen iletişime geçiniz.")
    assert trim_tail([para, para, notice], Counter()) == [para, para]


def test_a_sentence_made_mostly_of_links_is_prose_not_a_teaser():
    from collections import Counter

    from kirinuki.pipelines.generic import drop_link_teasers
    from lxml import html

    tree = html.fromstring(
        "<html><body><article>"
        "<p>After <a href='/a'>Lily Miyazaki won her first-round match as the sole Brit on Monday</a>, it was "
        "<a href='/b'>Katie Boulter who got the ball rolling on Tuesday</a> against <a href='/c'>Diane Parry</a>.</p>"
        "<p>Read more: <a href='/d'>Plymouth protests erupt in violence as people are injured</a></p>"
        "</article></body></html>")
    removed: Counter[str] = Counter()
    drop_link_teasers(tree, removed)
    texts = [p.text_content() for p in tree.iter("p")]
    assert len(texts) == 1 and texts[0].startswith("After Lily Miyazaki")
    assert removed["related"] == 1


def _portal_page(menu_words: list[str], paras: list[str]) -> bytes:
    """A 2000s portal page: a menu row table, the article in a table cell, a footer row."""
    row = "".join(f"<td><a href='/c{i}'>{w}</a></td>" for i, w in enumerate(menu_words))
    foot = "".join(f"<td><a href='/f{i}'>{w}</a></td>" for i, w in enumerate(["关于我们", "联系方式", "广告服务"]))
    return ("<html><head><title>春节旅游收入创新高</title></head><body><table><tr>" + row + "</tr></table>"
            "<table><tr><td><font size='4'>春节旅游收入创新高</font><br>"
            + "".join(f"{p}<br><br>" for p in paras) + "</td></tr></table>"
            "<table><tr>" + foot + "</tr></table></body></html>").encode()


_PORTAL_PARAS = ["据报道，今年春节期间，全市共接待游客一百二十万人次，比去年同期增长百分之十五，旅游收入达到八亿元。",
                 "市旅游局负责人表示，各大景区秩序良好，没有发生重大安全事故，游客满意度明显提高。",
                 "专家认为，随着交通条件的改善和假日经济的发展，短途旅游将成为市民春节出行的主要方式之一。"]


def test_menu_row_above_a_table_layout_article_goes_on_readabilitys_vote():
    # Trafilatura keeps the portal's menu row (table cells) above the article; readability's
    # container is the article's cell, so the row outside the prose goes (chinese-wce, issue 10).
    from kirinuki.pipelines import Page, clean

    page = _portal_page(["首页", "新闻", "体育", "娱乐", "财经", "汽车", "房产"], _PORTAL_PARAS)
    r = clean(Page(url="http://news.example.cn/2005/0212/1.html", body=page), generic_only=True)[0]
    text = "\n".join(b["text"] for b in r["blocks"])
    assert "首页" not in text and "体育" not in text
    assert all(p[5:20] in text for p in (x.replace("，", ",") for x in _PORTAL_PARAS))  # NFKC commas


def test_readability_vote_spares_lists_quotes_and_other_containers():
    from collections import Counter

    import lxml.html
    from kirinuki.pipelines.normalize import normalize_text
    from kirinuki.pipelines.readability_vote import vote_edges

    prose = [Block("paragraph", normalize_text(p)) for p in _PORTAL_PARAS]
    menu = Block("paragraph", "首页 | 新闻 | 体育 | 娱乐 | 财经 | 汽车 | 房产")
    closing = Block("list_item", "附：春节期间各景区接待人数一览")
    tree = lxml.html.document_fromstring(_portal_page(["首页", "新闻", "体育", "娱乐", "财经", "汽车", "房产"],
                                                      _PORTAL_PARAS).decode())
    removed: Counter[str] = Counter()
    assert vote_edges(tree, [menu, *prose, closing], removed) == [*prose, closing]
    assert removed["navigation"] == 1
    # Readability's article is another text (it does not hold our prose): no vote.
    other = lxml.html.document_fromstring(_portal_page(["首页"], ["完全不同的另一篇文章，讲的是别的事情，和我们的正文没有关系。" * 3]).decode())
    assert vote_edges(other, [menu, *prose], Counter()) == [menu, *prose]


_LATIN_PARAS = [
    "The city council approved the new budget on Tuesday after a debate that lasted well into the night.",
    "Officials said the plan would fund road repairs, two new libraries and longer opening hours for parks.",
    "Critics argued that the spending was too high, but the measure passed by a vote of seven to two.",
] * 3


def test_a_clearly_good_latin_first_pass_pays_for_no_readability_vote(monkeypatch):
    # Latin-script prose with a little votable text around it (under 5% of the prose): the vote
    # could move the page by a few hundredths at most, so readability does not run (issue 10's
    # speed target). CJK prose, or more text around Latin prose, still gets the vote.
    from collections import Counter

    import lxml.html
    from kirinuki.pipelines import readability_vote
    from kirinuki.pipelines.normalize import normalize_text

    calls: list[int] = []

    def counted(tree):
        calls.append(1)
        return None  # no article: no vote either way

    monkeypatch.setattr(readability_vote, "readability_text", counted)
    tree = lxml.html.document_fromstring("<html><body><p>x</p></body></html>")
    prose = [Block("paragraph", t) for t in _LATIN_PARAS]
    kicker = Block("paragraph", "World news | Politics")  # 21 characters, 3% of the prose
    assert len(kicker.text) < 0.05 * sum(len(b.text) for b in prose)
    assert readability_vote.vote_edges(tree, [kicker, *prose], Counter()) == [kicker, *prose]
    assert calls == []
    menu = Block("paragraph", "Home | World | Politics | Business | Sport | Culture | Opinion | Video")
    readability_vote.vote_edges(tree, [menu, *prose], Counter())  # 8% of the prose: it votes
    assert calls == [1]
    cjk = [Block("paragraph", normalize_text(t)) for t in _PORTAL_PARAS * 6]
    menu = Block("paragraph", "首页 | 新闻 | 体育 | 娱乐 | 财经")  # 3% of the prose
    assert len(menu.text) < 0.05 * sum(len(b.text) for b in cjk)
    readability_vote.vote_edges(tree, [menu, *cjk], Counter())
    assert calls == [1, 1]


def test_dated_source_line_at_the_edges_goes():
    from collections import Counter

    from kirinuki.pipelines.refine import drop_edge_lines

    para = Block("paragraph", "据报道,今年春节期间,全市共接待游客一百二十万人次,比去年同期增长百分之十五。" * 2)
    head = Block("paragraph", "2005-04-27 14:32更新 来源:千龙新闻网 | 发表评论")
    cited = Block("paragraph", "来源:国家统计局")  # no date: a citation the article may print
    removed: Counter[str] = Counter()
    assert drop_edge_lines([head, para, cited], [], removed) == [para, cited]
    assert removed["boilerplate"] == 1


def test_readability_vote_drops_a_cjk_notice_above_the_article_not_below_it():
    # A login/notice line with a full stop above the article is "prose" by its 。, yet page
    # furniture when readability's article (the same prose) leaves it out; below the article the
    # golds disagree (Readability.js keeps a site's asides), so a sentence there stays.
    from collections import Counter

    import lxml.html
    from kirinuki.pipelines.normalize import normalize_text
    from kirinuki.pipelines.readability_vote import vote_edges

    prose = [Block("paragraph", normalize_text(p)) for p in _PORTAL_PARAS]
    notice = Block("paragraph", "ご利用には会員登録が必要です。")
    menu = Block("paragraph", "首页 | 新闻 | 体育 | 娱乐 | 财经 | 汽车 | 房产")
    tree = lxml.html.document_fromstring(_portal_page(["首页", "新闻", "体育", "娱乐", "财经", "汽车", "房产"],
                                                      _PORTAL_PARAS).decode())
    assert vote_edges(tree, [menu, notice, *prose, notice], Counter()) == [*prose, notice]


def test_a_paid_members_label_line_is_paywall_furniture():
    # Japanese pages end a teaser with "[有料会員限定] この記事は会員限定です。…" (newspaper4k).
    from kirinuki.pipelines.noise import line_kind, load_vocabulary

    rules = load_vocabulary().lines
    assert line_kind("[有料会員限定] この記事は会員限定です。電子版に登録すると続きをお読みいただけます。", rules) == "paywall"
    assert line_kind("【会員限定】この記事は会員限定です。", rules) == "paywall"


def test_dated_entries_run_together_are_a_listing_not_prose():
    # A forum thread prints its reply list as one line of "title【name】08-11 16:06 298字 [4321/87]"
    # entries; with a 。 in a reply it passed for the article's prose, 25 times the post's size,
    # so readability's vote (which found the post) never counted (chinese-wce, issue 10).
    from kirinuki.pipelines.layout import is_prose

    replies = "".join(f"第{i}条回复说得对。【网友{i}】08-11 16:{i:02d} 138字 [140/0] " for i in range(10, 30))
    assert not is_prose(replies)
    post = "导游的收入很大一部分来自购物的回扣,这是业内的“行规”,境内游境外游都是这样的。"
    assert is_prose(post)
    # A programme inside an article gives a date and a time now and then: still prose.
    schedule = ("12-11 09:00 开幕式在南开大学举行,经济学院院长致辞,随后由中国经济学年会秘书长介绍本届年会的筹备情况"
                "和论文评审结果,各分会场的主持人和评论人名单也在会上公布,代表们随后前往各自的会场参加讨论。" * 3)
    assert len(schedule) > 300
    assert is_prose(schedule)


def test_a_legal_notice_heading_under_the_article_ends_the_text():
    # Portals print their copyright / anti-infringement statement under the article; its
    # sentences passed for the article's last prose, so the chrome above them stayed too
    # (chinese-wce, issue 10). A heading of that closed class ends the text once it has begun.
    from collections import Counter

    from kirinuki.pipelines.refine import cut_notices

    para = Block("paragraph", "据报道,今年春节期间,全市共接待游客一百二十万人次,比去年同期增长百分之十五。" * 3)
    menu = Block("paragraph", "发送给朋友 | 发表评论 | 打印本文")
    notice = Block("paragraph", "雅虎中国著作权声明")
    legal = Block("paragraph", "雅虎中国的所有内容均由其内容合作方根据协议提供。")
    removed: Counter[str] = Counter()
    assert cut_notices([para, menu, notice, legal], removed) == [para, menu]
    assert removed["boilerplate"] == 2
    assert cut_notices([para, Block("paragraph", "反侵权公告:"), legal], Counter()) == [para]
    # Above the article (a page opening with its notice), or a sentence about a statement: stays.
    assert cut_notices([notice, para], Counter()) == [notice, para]
    said = Block("paragraph", "外交部发言人当天发表声明。")
    assert cut_notices([para, said], Counter()) == [para, said]


def test_a_chinese_hot_or_latest_comments_heading_ends_the_text():
    # Chinese portals open their comment box with "热门评论" / "最新评论" (chinese-wce, issue 10).
    from collections import Counter

    from kirinuki.pipelines.refine import cut_comments

    para = Block("paragraph", "然而,有研究者指出,耐克气垫鞋其实暗藏“伤机”,长期从事鞋与健康研究的专家早就提出过警告。" * 3)
    reply = Block("paragraph", "lr9111[219.130.79.*] 认为:")
    for heading in ("热门评论", "最新评论", "网友评论:"):
        assert cut_comments([para, Block("heading", heading), reply], Counter()) == [para]
    quoted = Block("paragraph", "热门评论员的文章")  # no heading of a comment box
    assert cut_comments([para, quoted], Counter()) == [para, quoted]



def test_the_first_of_several_dated_entries_is_the_article():
    # A forum thread (replies) or a blog archive (older posts) prints the same short line after
    # every entry, next to the entry's date and time: the article is the first entry
    # (chinese-wce: two forum threads and two archive pages, issue 10).
    from collections import Counter

    from kirinuki.pipelines.refine import first_entry

    post = Block("paragraph", "眉间尺 | 不得不承认,如果没有张曼玉在戛纳封后,就很少有人会去关注《清洁》这部法国电影。" * 3)
    back = Block("paragraph", "← 返回")
    replies = []
    for i in range(4):
        replies += [Block("paragraph", f"回复{i}"),
                    Block("paragraph", f"网友{i} | 说得好。 〓 发布时间 2005/05/1{i} 13:45:40 by 网友{i} 〓"), back]
    post_signed = Block("paragraph", "〓 发布时间 2005/05/09 10:00:00 by 眉间尺 〓")
    removed: Counter[str] = Counter()
    blocks = [post, post_signed, back, *replies]
    assert first_entry(blocks, removed) == [post, post_signed]
    assert removed["comment"] == len(blocks) - 2
    # The same short line repeated without dates (recipe steps, "Read more" links) is no thread.
    undated = [post, back, Block("paragraph", "说得好。"), back, Block("paragraph", "同意。"), back]
    assert first_entry(undated, Counter()) == undated



def test_a_blog_trackback_line_at_the_end_goes():
    from collections import Counter

    from kirinuki.pipelines.refine import trim_tail

    para = Block("paragraph", "对比uuzone,我宁愿Linkist联络家的目标是“做最有用、最方便用的SNS”。" * 2)
    track = Block("paragraph", "Trackback: http://tb.donews.net/TrackBack.aspx?PostId=543698")
    assert trim_tail([para, track], Counter()) == [para]



def test_cjk_share_print_and_forum_action_lines_are_noise():
    # "このニュースをシェア" (newspaper4k), "【打印本稿】 | 【关闭】" and a forum's
    # "收藏此帖 回复此帖 引用此帖" bar (chinese-wce): closed-class page furniture (issue 10).
    from kirinuki.pipelines.noise import line_kind, load_vocabulary

    rules = load_vocabulary().lines
    assert line_kind("このニュースをシェア", rules) == "share"
    assert line_kind("【打印本稿】 | 【关闭】", rules) == "share"
    assert line_kind("[打印]", rules) == "share"
    assert line_kind("收藏此帖 回复此帖 引用此帖", rules) == "comment"
    assert line_kind("打印机销量今年大增", rules) is None


def test_a_heading_linked_to_its_own_section_is_not_a_teaser():
    # Documentation and blog pages link each subhead to itself ("¶" permalinks, table-of-contents
    # targets): the link covers the whole heading, yet it points into the page, not to another.
    from collections import Counter

    from kirinuki.pipelines.generic import drop_link_teasers
    from lxml import html

    tree = html.fromstring(
        "<html><body><article><p>Intro.</p>"
        "<h3 id='setup'><a class='toclink' href='#setup'>Preparing the data for the analysis</a></h3>"
        "<p>Body.</p><h3><a href='/other-story'>Another story everyone is reading today</a></h3>"
        "</article></body></html>")
    drop_link_teasers(tree, Counter())
    assert [h.text_content() for h in tree.iter("h3")] == ["Preparing the data for the analysis"]


def test_headings_and_lists_between_two_kept_paragraphs_are_put_back():
    # Trafilatura's fallback (no container found: the page's wild <p> elements) returns the
    # paragraphs without the subheads and lists printed between them.
    from kirinuki.pipelines.gaps import fill_gaps
    from lxml import html

    first = "The smaller releases will contain mainly the following things, in this order:"
    second = "This is actually quite a large change to our procedures, and a welcome one."
    third = "There are several screens that are finished; others are left as they were."
    fourth = "A teaser for another story, in a box of its own below the article."
    tree = html.fromstring(
        f"<html><body><div><p>{first}</p><ul><li>New graphics.</li><li>New sounds.</li></ul><p></p>"
        f"<div class='ad'>Advertisement</div><p>{second}</p><h2>The GUI progress <font>(kovarex)</font></h2>"
        f"<ul><li><a href='/a'>Related story number one</a></li><li><a href='/b'>Related two</a></li></ul>"
        f"<p>{third}</p></div><h2>Most read</h2><div><p>{fourth}</p></div></body></html>")
    blocks = [Block("paragraph", first), Block("paragraph", second), Block("paragraph", third)]
    assert fill_gaps(tree, blocks) == [
        Block("paragraph", first), Block("list_item", "New graphics."), Block("list_item", "New sounds."),
        Block("paragraph", second), Block("heading", "The GUI progress (kovarex)"), Block("paragraph", third)]
    # Paragraphs in different containers leave what is between them alone.
    assert fill_gaps(tree, [blocks[2], Block("paragraph", fourth)]) == [blocks[2], Block("paragraph", fourth)]


def test_a_quotes_attribution_line_is_not_trimmed_as_a_fragment():
    from collections import Counter

    from kirinuki.pipelines.refine import trim_tail

    para = Block("paragraph", "The Senate adjourned plenary for two weeks to allow the committee to finish its work.")
    tweet = Block("quote", "Senate adjourns plenary to Tuesday, October 16th, 2018.")
    attribution = Block("quote", "— The Nigerian Senate (@NGRSenate) October 9, 2018")
    assert trim_tail([para, tweet, attribution], Counter()) == [para, tweet, attribution]
    assert trim_tail([para, Block("paragraph", "Politics")], Counter()) == [para]


def test_a_teaser_headings_link_share_is_measured_on_its_text_as_it_reads():
    # A teaser card's heading: a kicker, then the linked headline, the source indented over three
    # lines. Counted with its white space, the unlinked part looked like a third of the heading.
    from collections import Counter

    from kirinuki.pipelines.generic import drop_link_teasers
    from lxml import html

    tree = html.fromstring(
        "<html><body><div><h4 class='heading'>\n\t\t\t\t<strong>News</strong>\n\t\t\t\t      "
        "<a href='/news/opinion/story-1'>Fraser’s lasting legacy</a>\n\t\t</h4>"
        "<h4>Editorial: <a href='/news/opinion/story-2'>Fraser’s lasting legacy</a>, and why it matters today</h4>"
        "</div></body></html>")
    drop_link_teasers(tree, Counter())
    assert [h.text_content() for h in tree.iter("h4")] == [
        "Editorial: Fraser’s lasting legacy, and why it matters today"]


def test_a_paragraphs_generated_id_does_not_make_it_navigation():
    # Trafilatura discards elements whose id holds "Nav"; a CMS's random paragraph id can.
    from kirinuki.pipelines import Page, clean

    paras = "".join(f"<p id='p{i}x'>Paragraph {i} of the review says why this film is among the best of the "
                    "year, and where it can be watched.</p>" for i in range(5))
    page = ("<html><head><title>Best films</title></head><body><article><h1>Best films</h1>" + paras
            + "<p id='NavzzU'>Winner of the Palme d’Or at the Cannes Film Festival, The Square is a hilariously "
            "needling comedy about the contemporary art world.</p></article></body></html>")
    r = clean(Page(url="https://example.org/films", body=page.encode()), generic_only=True)[0]
    assert "Palme" in r["text"]


def test_the_linked_items_of_an_articles_own_list_are_not_teasers():
    # A blog post's highlights: two items are only a link, one is a sentence of the post's own.
    from collections import Counter

    from kirinuki.pipelines.generic import drop_link_teasers
    from lxml import html

    tree = html.fromstring(
        "<html><body><article><ul>"
        "<li><a href='/a'>Here's our Firefox Year in Review!</a></li>"
        "<li><a href='/b'>Here's our Performance Year in Review!</a></li>"
        "<li>We've just landed <a href='/c'>Bug 1553982</a>, which aims to prevent starting an update "
        "while another instance of the browser is running.</li>"
        "</ul><ul>"
        "<li><a href='/d'>Plymouth protests erupt in violence as people are injured</a></li>"
        "<li><a href='/e'>Storm closes the harbour for a second night</a></li>"
        "</ul></article></body></html>")
    removed: Counter[str] = Counter()
    drop_link_teasers(tree, removed)
    items = [li.text_content() for li in tree.iter("li")]
    assert items[:2] == ["Here's our Firefox Year in Review!", "Here's our Performance Year in Review!"]
    assert len(items) == 3 and removed["related"] == 2  # the headline list still goes


def test_a_paragraph_printed_as_loose_text_after_a_figure_is_kept():
    # The paragraph after an embedded photo is the tail of the photo's wrapper, not a <p>.
    from kirinuki.pipelines import Page, clean

    paras = "".join(f"<p>Paragraph {i} tells how the photographer's picture of a newborn wrapped in the flag "
                    "drew comments from strangers.</p>" for i in range(5))
    page = ("<html><head><title>Flag photo</title></head><body><article><h1>Flag photo</h1>" + paras
            + "<div class='fig'><figure><img src='a.jpg'></figure><p class='legend'>Vanessa Hicks</p></div>"
            "The Federal Flag Code has guidelines for the proper treatment of the flag but there are no rules "
            "for punishment related to violations.<p></p>" + paras.replace("Paragraph", "Part")
            + "</article></body></html>")
    r = clean(Page(url="https://example.org/flag", body=page.encode()), generic_only=True)[0]
    assert "The Federal Flag Code has guidelines" in r["text"]


def test_a_list_of_teaser_cards_under_the_article_goes():
    # "Other Opinion Columns": each card a kicker, a linked headline (the kicker keeps its link
    # share under the teaser rule's) and a standfirst that is prose.
    from collections import Counter

    from kirinuki.pipelines.generic import drop_link_teasers
    from lxml import html

    card = ("<div class='story-block sbpos-{i}'><h4><strong>Opinion column {i}</strong> "
            "<a href='/opinion/{i}'>Why it matters now</a></h4>"
            "<p class='standfirst'>THE good thing about the budget is that it is cheap and good quality, "
            "columnist {i} writes.</p></div>")
    article = ("<div class='body'><h3><a href='#one'>One</a></h3><p>One short section.</p></div>"
               "<div class='body'><h3><a href='#two'>Two</a></h3><p>Another short section.</p></div>"
               "<div class='body'><h3><a href='#three'>Three</a></h3><p>A third short section.</p></div>")
    tree = html.fromstring("<html><body><article>" + article + "</article><div class='group'>"
                           + "".join(card.format(i=i) for i in range(4)) + "</div></body></html>")
    removed: Counter[str] = Counter()
    drop_link_teasers(tree, removed)
    text = tree.text_content()
    assert "good thing about the budget" not in text and removed["related"] == 4
    assert "A third short section." in text  # sections whose headings link to themselves stay


def test_a_widgets_status_lines_at_the_end_go():
    # An app-download widget under the article prints its states as text.
    from collections import Counter

    from kirinuki.pipelines.refine import trim_tail

    para = Block("paragraph", "Allergies to peanuts and other foods are on the rise, and reactions to tree nuts "
                              "can be especially severe.")
    widget = [Block("paragraph", x) for x in (
        "Today on WebMD", "Please wait...", "This feature is temporarily unavailable. Please try again later.",
        "Thanks!", "Now check your email account on your mobile phone to download your new app.")]
    assert trim_tail([para, para, *widget], Counter()) == [para, para]


def test_an_embedded_slideshow_widget_is_noise():
    from collections import Counter

    from kirinuki.pipelines.noise import load_vocabulary, remove_noise
    from lxml import html

    tree = html.fromstring(
        "<html><body><article><p>" + "The article's own text. " * 40 + "</p></article>"
        "<div class='slideShow' id='slideShow1'><ul class='toolbar'><li>Share on Twitter</li><li>1 of 5</li>"
        "<li>Fullscreen</li></ul><ul class='slides'><li>A photo contest winner tells her story.</li></ul></div>"
        "</body></html>")
    remove_noise(tree, load_vocabulary().matcher, Counter(), max_share=0.5)
    assert "photo contest" not in tree.text_content() and "article's own text" in tree.text_content()


def test_a_linked_heading_between_two_paragraphs_is_a_subhead():
    # A buying guide names each product in a heading linked to its store page.
    from collections import Counter

    from kirinuki.pipelines.generic import drop_link_teasers
    from lxml import html

    review = "<p>It is a captivating assault on the senses, and one of the rare games that works well in VR.</p>"
    tree = html.fromstring(
        "<html><body><article>" + review
        + "<h3><a href='https://store.example/rigs'>“RIGS: Mechanized Combat League” ($50)</a></h3>"
        "<div class='iframe-wrapper'><iframe src='https://video.example/embed/1'></iframe></div>" + review
        + "<h3><a href='/other-story'>Storm closes the harbour for a second night</a></h3>"
        "</article></body></html>")
    removed: Counter[str] = Counter()
    drop_link_teasers(tree, removed)
    assert [h.text_content() for h in tree.iter("h3")] == ["“RIGS: Mechanized Combat League” ($50)"]
    assert removed["related"] == 1  # the headline after the last paragraph is still a teaser


def test_a_layout_rows_sidebar_cell_is_not_the_article():
    from kirinuki.pipelines.generic import body_blocks
    from lxml import etree

    post = "Added Granite, Andesite and Diorite stone blocks, with smooth versions. " * 10
    body = etree.fromstring(
        "<body><table><row><cell><p>" + post + "</p></cell><cell><p>Official links: Minecraft.net Realms "
        "Merchandise</p></cell></row><row><cell>Name</cell><cell>Price</cell></row></table></body>")
    assert [b.text for b in body_blocks(body)] == [post.strip(), "Name | Price"]  # data rows stay as rows


def test_an_emphasised_paragraph_between_blocks_is_kept():
    # A disclaimer printed as a bare <em> between a table's wrapper and the next paragraph.
    from kirinuki.pipelines.generic import wrap_loose_text
    from lxml import html

    tree = html.fromstring(
        "<html><body><article><p>Update sizes fell by half for most apps this year.</p>"
        "<div><table><tr><td>7.7 MB</td></tr></table></div>\n<em>Disclaimer: if you see different patch sizes when "
        "you press update manually, that is because we are not using it for interactive updates.</em>\n"
        "<p>These changes are designed to save data.</p><div></div><b>Bold</b> tail</article></body></html>")
    wrap_loose_text(tree)
    assert [p.text_content().strip()[:11] for p in tree.iter("p")] == ["Update size", "Disclaimer:", "These chang"]


def test_lists_in_a_two_column_layout_table_are_kept():
    # An essay printed in a one-row table of two columns; each column announces a list.
    from kirinuki.pipelines import Page, clean

    para = "<p>In December I tried to install some software on my computer, and wrote about it at length. " * 3
    replies = "".join(f"<li>\"Reply number {i}: you should have used another distribution!\"<p></p></li>"
                      for i in range(6))
    page = ("<html><head><title>Usability</title></head><body><div align='center'><table width='90%'><tbody><tr>"
            "<td>" + para + "</p><p>The replies were roughly in the following groups:</p><p></p><ul>" + replies
            + "</ul></td><td>" + para.replace("December", "January") + "</p><p>You can rest assured that:</p>"
            "<ul><li>I've heard it before; and</li><li>I didn't care the first time.</li></ul>"
            "<p>So please do not bother sending me any more mail about this, since I will delete it.</p></td>"
            "</tr></tbody></table></div>" + "".join(f"<p>Then I tried player number {i}, and it crashed at once "
                                                      "when I opened a file.</p>" for i in range(6))
            + "</body></html>")
    r = clean(Page(url="https://example.org/usability", body=page.encode()), generic_only=True)[0]
    assert "Reply number 5" in r["text"] and "I didn't care the first time." in r["text"]


def test_a_heading_opening_the_text_above_running_text_is_the_printed_headline():
    # The <title> is written for search ("House China Committee demands answers..."), the page
    # prints another headline, with or without a kicker: the title's copy is not found, yet a
    # heading that opens the text right above running text is that headline (issue 10).
    from collections import Counter

    from kirinuki.pipelines.refine import drop_headline

    printed = Block("heading", "Umbau des Weissen Hauses Trump plant Helikopterlandeplatz")
    prose = [Block("paragraph", t) for t in _LATIN_PARAS[:3]]
    removed: Counter[str] = Counter()
    assert drop_headline([printed, *prose], "Trump plant Landeplatz beim Weissen Haus", removed) == prose
    assert removed["boilerplate"] == 1
    # a heading above a non-sentence line (a byline, a list) or a paragraph line stays
    byline = Block("paragraph", "By Jane Doe and John Roe")
    assert drop_headline([printed, byline, *prose], None, Counter()) == [printed, byline, *prose]
    first = Block("paragraph", "Umbau des Weissen Hauses")
    assert drop_headline([first, *prose], None, Counter()) == [first, *prose]
    # where the title's copy is found, only that copy goes
    copy = Block("heading", "Trump plant Helikopterlandeplatz beim Weissen Haus")
    sub = Block("heading", "Ein Landeplatz auf dem Rasen")
    kept = drop_headline([copy, sub, *prose], "Trump plant Helikopterlandeplatz beim Weissen Haus", Counter())
    assert kept == [sub, *prose]
