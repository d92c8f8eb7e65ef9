"""Language of the article text with langdetect, seeded so the same text gives the same answer.

langdetect is pure Python and was a fifth of the time of `clean()` (issue 3). It now reads a
1000-character sample with 3 trials (the same answers as 3000 characters and 7 trials on 365 of
366 benchmark pages and on every fixture; the odd one is a Chinese page the old setting called
Korean), text whose letters are largely kana or hangul is Japanese or Korean without asking, and
its inner loops run in `_Detector`, which computes exactly what langdetect's own code does.

py3langid (langid.py's model, 97 languages) answers first (issue 10): langdetect's 55 profiles
have no Icelandic or isiZulu (it said `no` and `sw`), and it called six Chinese pages Korean.
Where py3langid is sure (probability >= 0.95) its code is the answer; for Chinese, langdetect's
two Chinese profiles tell `zh-cn` from `zh-tw`; elsewhere langdetect decides as before. On the 551
benchmark pages the two agree on 540; the 11 others are those fixed above and a Burmese page.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from langdetect import DetectorFactory, LangDetectException
from langdetect.detector import Detector
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.lang_detect_exception import ErrorCode
from langdetect.utils.ngram import NGram

# Every detector starts its random restarts from this seed: the same text, the same answer.
SEED = 0
SAMPLE = 1000
# Random restarts of langdetect's estimate (its default is 7): 3 take 70% of the time.
TRIALS = 3
_KANA_RE = re.compile("[\u3040-\u30ff]")
_HANGUL_RE = re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_WORD_RE = re.compile("[^ ]+")


class _Detector(Detector):
    """langdetect's Detector with its per-character and per-language loops written for speed.

    Same arithmetic in the same order (so the same floats and the same answers; see
    tests/test_language_speed.py): the character normalisation is memoised, n-grams are read word
    by word, and the 55-language probability updates are list comprehensions in one inlined loop.
    """

    def _extract_ngrams(self):
        # langdetect feeds normalised characters through a 3-character window that restarts at
        # each space; word by word, that is: each character, the pair and the triple ending at it
        # (a leading space counts), then the pair and triple ending at the space after the word.
        # Characters where two capitals meet are skipped. Same n-grams, same order.
        known = self.word_lang_prob_map
        text = "".join(map(_normalize_char, self.text))
        result = []
        add = result.append
        end = len(text)
        for m in _WORD_RE.finditer(text):
            word = m.group()
            padded = " " + word
            upper = [c.isupper() for c in padded]
            for i in range(len(word)):
                if upper[i + 1] and upper[i]:
                    continue
                for w in (word[i], padded[i:i + 2], padded[i - 1:i + 2] if i else None):
                    if w is not None and w in known:
                        add(w)
            if m.end() < end:  # the space after the word
                window = (padded[-3:] if len(padded) >= 3 else padded)
                window = (window[1:] if len(window) >= 3 else window) + " "
                for w in (window[-2:], window[-3:] if len(window) >= 3 else None):
                    if w is not None and w in known:
                        add(w)
        return result

    def _detect_block(self):
        # langdetect's loop with its method calls inlined: random restarts, each updating the
        # 55 language probabilities by randomly drawn n-grams until one passes 0.99999.
        self.cleaning_text()
        ngrams = self._extract_ngrams()
        if not ngrams:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        known, rnd, trials = self.word_lang_prob_map, self.random, self.n_trial
        self.langprob = [0.0] * len(self.langlist)
        rnd.seed(self.seed)
        for _ in range(trials):
            prob = self._init_probability()
            alpha = self.alpha + rnd.gauss(0.0, 1.0) * self.ALPHA_WIDTH
            weight = alpha / self.BASE_FREQ
            i = 0
            while True:
                lang_prob_map = known.get(rnd.choice(ngrams))
                if lang_prob_map is not None:
                    prob = [p * (weight + q) for p, q in zip(prob, lang_prob_map, strict=False)]
                if i % 5 == 0:
                    sump = sum(prob)
                    prob = [p / sump for p in prob]
                    if max(0.0, *prob) > self.CONV_THRESHOLD or i >= self.ITERATION_LIMIT:
                        break
                i += 1
            self.langprob = [lp + p / trials for lp, p in zip(self.langprob, prob, strict=False)]


SURE = 0.95  # py3langid probability from which its answer stands without langdetect
CHINESE = 0.5  # Han text is Chinese from here (langdetect's 55 profiles called some Korean)


@cache
def _identifier() -> Any:
    """py3langid's shipped model with probabilities normalised, imported and loaded on first use:
    importing it pulls in numpy, whose threads must not start in the crawler's forkserver."""
    from kirinuki.pipelines.language_model import load_identifier

    return load_identifier()


def detect_language(text: str) -> str | None:
    sample = text[:SAMPLE]
    if len(sample.strip()) < 3:
        return None
    if _KANA_RE.search(sample) or _HANGUL_RE.search(sample):
        letters = sum(1 for c in sample if c.isalpha())
        if letters >= 20:
            if len(_KANA_RE.findall(sample)) * 5 >= letters:
                return "ja"
            if len(_HANGUL_RE.findall(sample)) * 2 >= letters:
                return "ko"
    lang, prob = _identifier().classify(sample)
    if lang == "zh" and prob >= CHINESE:
        return _chinese_script(sample)
    if prob >= SURE:
        return str(lang)
    return _langdetect(sample)


def _chinese_script(sample: str) -> str:
    """`zh-cn` or `zh-tw` for text known to be Chinese: langdetect asked about those two only
    (its two profiles load in milliseconds, all 55 take two seconds)."""
    return _langdetect(sample, _zh_profiles()) or "zh-cn"


def _langdetect(sample: str, profiles: DetectorFactory | None = None) -> str | None:
    try:
        detector = new_detector(profiles=profiles)
        detector.append(sample)
        return detector.detect()
    except LangDetectException:
        return None


@cache
def _normalize_char(ch: str) -> str:
    """langdetect's character normalisation, memoised (a pure function of one character)."""
    return NGram.normalize(ch)


@cache
def _profiles() -> DetectorFactory:
    """langdetect's language profiles, loaded on first use into our own factory (langdetect's
    module-level one and its class-wide seed are left alone)."""
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    return factory


@cache
def _zh_profiles() -> DetectorFactory:
    """langdetect's simplified and traditional Chinese profiles alone."""
    import json
    from pathlib import Path

    from langdetect.utils.lang_profile import LangProfile

    factory = DetectorFactory()
    for i, name in enumerate(("zh-cn", "zh-tw")):
        data = json.loads((Path(PROFILES_DIRECTORY) / name).read_text(encoding="utf-8"))
        factory.add_profile(LangProfile(**data), i, 2)
    return factory


def load_models() -> None:
    """Load every language model now: py3langid's, langdetect's 55 profiles (two seconds) and its
    two Chinese ones. Each otherwise loads on the first page that needs it, a one-time cost that
    a timing of pages (`kirinuki eval`) must not charge to that page."""
    _identifier()
    _profiles()
    _zh_profiles()


def new_detector(trials: int = TRIALS, fast: bool = True, profiles: DetectorFactory | None = None) -> Detector:
    """A seeded detector on langdetect's profiles (`fast=False`: langdetect's own class)."""
    detector = (_Detector if fast else Detector)(profiles or _profiles())
    detector.seed = SEED
    detector.n_trial = trials
    return detector
