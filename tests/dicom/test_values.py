from datetime import date, datetime, time

from pydicom.multival import MultiValue

from archive.dicom import values as v


def test_dates_and_times():
    assert v.to_date("20240131") == date(2024, 1, 31)
    assert v.to_date("2024.01.31") == date(2024, 1, 31)  # ACR-NEMA style
    assert v.to_date("20241341") is None and v.to_date("") is None and v.to_date(None) is None
    assert v.to_time("0930") == time(9, 30)
    assert v.to_time("093015.25") == time(9, 30, 15, 250000)
    assert v.to_time("09:30:15") == time(9, 30, 15)
    assert v.to_time("xx") is None
    assert v.to_datetime("20240131", "0930") == datetime(2024, 1, 31, 9, 30)
    assert v.to_datetime("20240131", None) == datetime(2024, 1, 31)
    assert v.dt_value("20240131093015.5+0100") == datetime(2024, 1, 31, 9, 30, 15, 500000)


def test_eight_digit_dates_read_as_strptime_reads_them():
    def by_strptime(raw):
        try:
            return datetime.strptime(raw, "%Y%m%d").date()
        except ValueError:
            return None
    for year in ("0000", "0001", "1900", "2000", "2023", "2024", "9999"):
        for month in range(0, 20):
            for day in range(0, 40):
                raw = f"{year}{month:02d}{day:02d}"
                assert v.to_date(raw) == by_strptime(raw), raw
    for raw in ("2024013", "202401311", "2024-01-31", "２０２４０１３１", " 20240131", "20240131 "):
        assert v.to_date(raw) == by_strptime(raw.strip().replace(".", "")[:8]), raw


def test_numbers_and_lists():
    assert v.to_float("2.5") == 2.5 and v.to_float("nan") is None and v.to_float("x") is None
    assert v.to_int("12") == 12 and v.to_int("1e12") is None
    assert v.to_floats(["0.5", "0.7"]) == [0.5, 0.7]
    assert v.to_floats(["0.5", "bad"]) is None
    assert v.to_float(MultiValue(str, ["40", "400"])) == 40.0  # first of several windows
    assert v.to_texts(["A", " ", "B"]) == ["A", "B"]
    assert v.text("  X\x00") == "X" and v.text("   ") is None
