BOT_NAME = "newsbot"
SPIDER_MODULES = ["newsbot.spiders"]
ROBOTSTXT_OBEY = True
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"

# kirinuki's cleaning pipeline, configured through settings only.
ITEM_PIPELINES = {"kirinuki.scraper.pipelines.CleanPipeline": 300}
KIRINUKI_WORKERS = 1
