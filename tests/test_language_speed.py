"""The fast langdetect detector must compute exactly what langdetect's own Detector computes."""

from __future__ import annotations

import pytest
from kirinuki.pipelines.language import detect_language, new_detector

SAMPLES = [
    "The quick brown fox jumps over the lazy dog. NASA and the EU said on Monday, U.S.-based firms...",
    "Die Bundesregierung hat am Mittwoch beschlossen, dass ÖPNV-Tickets günstiger werden; „Das ist gut“.",
    "Le gouvernement a annoncé mardi une réforme des retraites, selon l'AFP — c'est « historique ».",
    "El ministro de Exteriores ha propuesto en el encuentro la suspensión del acuerdo con Israel.",
    "Вчера в Москве прошла встреча министров иностранных дел России и США.",
    "米国とロシアが外相会談を開き、関係修復に向けた協議を始めた。トランプ政権の方針は…",
    "서울시는 오늘 대중교통 요금을 인상한다고 발표했다. 시민들의 반응은 엇갈렸다.",
    "新华社北京4月24日电 习近平主席向首届中国-拉美和加勒比国家航天合作论坛致贺信。",
    "Người đàn ông 63 tuổi đau bụng kéo dài, bác sĩ chẩn đoán ung thư lymphoma ruột non.",
    "ABC DEF ghi JKL mno. I AM HERE, a b c — x y z! 12345 ...",
    "Şampiyonluk yarışında Galatasaray ve Fenerbahçe; İstanbul'da gol krallığı sürüyor.",
]


@pytest.mark.parametrize("trials", [3, 7])
def test_fast_detector_is_langdetect(trials):
    for text in SAMPLES:
        for piece in (text, text[:40], text[5:60], text.upper(), text + " " + SAMPLES[0]):
            results = []
            for fast in (True, False):
                detector = new_detector(trials, fast)
                detector.append(piece)
                detector.cleaning_text()
                ngrams = detector._extract_ngrams()
                detector = new_detector(trials, fast)
                detector.append(piece)
                probs = [(p.lang, p.prob) for p in detector.get_probabilities()]
                results.append((ngrams, probs))
            assert results[0] == results[1], piece


def test_detect_language_shortcuts():
    assert detect_language(SAMPLES[5]) == "ja"
    assert detect_language(SAMPLES[6]) == "ko"
    assert detect_language(SAMPLES[1]) == "de"
    assert detect_language("  ") is None
