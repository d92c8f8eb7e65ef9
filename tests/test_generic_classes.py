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
