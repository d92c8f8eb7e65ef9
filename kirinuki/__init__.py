"""kirinuki command-line application (thin layer over `pipelines` and `scraper`)."""
