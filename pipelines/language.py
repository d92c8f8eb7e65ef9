"""Language of the article text with langdetect, seeded so the same text gives the same answer."""

from __future__ import annotations

from langdetect import DetectorFactory, LangDetectException, detect

DetectorFactory.seed = 0
SAMPLE = 3000


def detect_language(text: str) -> str | None:
    sample = text[:SAMPLE]
    if len(sample.strip()) < 3:
        return None
    try:
        return detect(sample)
    except LangDetectException:
        return None
