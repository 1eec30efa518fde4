"""The compliance report's files: the private saved copy, the CSV export and the
one-page PDF."""

from __future__ import annotations

import csv
import re
import stat
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

import i18n
from desktop.models.report import Dimension, SavedReports, reports_folder, write_csv
from desktop.views.report.pdf import write_pdf
from tests.desktop.report_sample import NAMES, NOW, PARIS, pdf_text, sample_report


def test_saved_copy_is_private_and_round_trips(tmp_path: Path) -> None:
    saved = SavedReports(reports_folder(tmp_path / "cache.sqlite3"))
    report = sample_report()
    path = saved.save(report, NOW, None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.parent == tmp_path / "cache.reports"
    copy = saved.load(report.start, report.end, None)
    assert copy is not None
    assert copy.report == report
    assert copy.fetched_at == NOW
    assert saved.load(report.start, report.end, 2) is None  # another team: another report
    path.write_text("{not json")
    assert saved.load(report.start, report.end, None) is None


def test_csv_round_trip(tmp_path: Path) -> None:
    report = sample_report()
    path = tmp_path / "report.csv"
    i18n.set_language("fr")  # numbers stay locale-independent
    write_csv(report, path, names=NAMES, zone=PARIS)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, for Excel
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Conformité SLA", "Novembre 2026"]
    header = next(i for i, row in enumerate(rows) if row[:2] == ["Ventilation", "Clé"])
    buckets = {(row[0], row[1]): row for row in rows[header + 1 :] if len(row) > 3}
    for dimension in Dimension:
        for expected in dimension.buckets(report):
            row = buckets[(dimension.value, expected.key)]
            assert int(row[3]) == expected.response_met
            assert int(row[4]) == expected.response_missed
            assert int(row[5]) == expected.response_open
            if expected.response_rate is None:
                assert row[6] == ""
            else:
                assert float(row[6]) == pytest.approx(expected.response_rate, abs=1e-4)
            assert int(row[9]) == expected.resolution_met
            assert int(row[10]) == expected.resolution_missed
            assert int(row[11]) == expected.resolution_open
    total = buckets[("total", "all")]
    assert float(total[7]) == report.total.response_mean_seconds
    assert float(total[14]) == report.total.resolution_p90_seconds
    breached_header = next(i for i, row in enumerate(rows) if row and row[0] == "Ticket")
    breached = rows[breached_header + 1 :]
    assert {row[0] for row in breached} == {t.number for t in report.breached}
    by_number = {row[0]: row for row in breached}
    assert by_number["INC-2026-000012"][1] == "Réseau lent, « urgent »"
    assert float(by_number["INC-2026-000013"][6]) == 26 * 3600
    assert by_number["INC-2026-000011"][8] == "Camille Durand"


@pytest.mark.parametrize(("language", "title"), [("en", "November 2026"), ("fr", "Novembre 2026")])
def test_pdf_is_one_page_with_the_months_title(
    qapp: QApplication, tmp_path: Path, language: str, title: str
) -> None:
    i18n.set_language(language)
    path = tmp_path / "report.pdf"
    write_pdf(sample_report(), path, zone=PARIS, team="Support N1")
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    pages, text = pdf_text(data)
    assert pages == 1
    assert title in re.sub(r"[\t\xa0\u202f]", " ", text)
