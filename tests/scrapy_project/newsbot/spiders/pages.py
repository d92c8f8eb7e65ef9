"""Follow the links of a start page and hand every page to the item pipelines."""

import scrapy


class PagesSpider(scrapy.Spider):
    name = "pages"

    def __init__(self, start: str = "", profile: str = "", **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [start]
        self.profile = profile or None

    def parse(self, response):
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, callback=self.parse_page)

    def parse_page(self, response):
        page = {
            "url": response.url,
            "body": response.body,
            "headers": {"content-type": response.headers.get("Content-Type", b"").decode()},
        }
        if self.profile and "clip" in response.url:
            page["profile"] = self.profile
        yield page


class PagesAddonSpider(PagesSpider):
    """The same spider with kirinuki enabled through its add-on (one item per article)."""

    name = "pages_addon"
    custom_settings = {"ADDONS": {"kirinuki.scraper.addon.Kirinuki": 0}}
