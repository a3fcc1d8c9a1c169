"""Offices imported from the official region codes (issue 17 item 1): the shared
``kode_wilayah.csv``, table cases, and the admin API route over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from district.regions import read_villages
from kiosk.errors import OperatorError
from tests.district.adminlab import Admin, admin_server

# A copy of the workplace's sample of the official codes (four regencies, public data)
SHARED = Path(__file__).resolve().parents[1] / "data" / "kode_wilayah.csv"
HEADER = "kode,nama,level,jenis\n"


def csv(*rows: str) -> bytes:
    return (HEADER + "\n".join(rows) + "\n").encode()


def test_the_villages_of_one_regency_and_why_rows_were_skipped() -> None:
    rows = read_villages(
        csv(
            "74,Sulawesi Tenggara,provinsi,",
            "74.08,Kabupaten Kolaka Utara,kab/kota,",
            "74.08.01,Lasusua,kecamatan,",
            "74.08.01.1001,Lasusua,desa/kelurahan,kelurahan",
            "74.08.01.2002,  Pitulua ,desa/kelurahan,desa",
            "74.08.01.2002,Pitulua,desa/kelurahan,desa",
            "74.08.01.9002,Salah,desa/kelurahan,desa",
            "74.08.01.2003,,desa/kelurahan,desa",
            "16.12.01.1003,Talang Ubi Timur,desa/kelurahan,kelurahan",
        ),
        district_code="74.08",
    )
    assert [(v.code, v.name) for v in rows.villages] == [
        ("74.08.01.1001", "Kelurahan Lasusua"),
        ("74.08.01.2002", "Desa Pitulua"),
    ]
    assert [line for line, _ in rows.skipped] == [7, 8, 9]
    assert rows.other_regencies == 1


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "first line must be"),
        (b"code,name\n1,2\n", "first line must be"),
        (b"\xff\xfe" + HEADER.encode("utf-16-le"), "not UTF-8"),
    ],
)
def test_a_file_that_is_no_region_csv_is_refused(data: bytes, says: str) -> None:
    with pytest.raises(OperatorError, match=says):
        read_villages(data, district_code="74.08")


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    with admin_server(tmp_path) as server:
        yield server


def test_the_shared_region_file_imports_kolaka_utaras_villages_once(admin: Admin) -> None:
    data = SHARED.read_bytes()
    expected = len(read_villages(data, district_code="74.08").villages)
    assert expected > 100
    answer = admin.call(
        "POST", "/offices/import", "operator", data=data, headers={"content-type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    first = answer.json()
    assert len(first["added"]) == expected - 1  # 74.08.01.2002 was there already
    assert first["existing"] == ["74.08.01.2002"] and first["other_regencies"] > 0
    again = admin.call("POST", "/offices/import", "operator", data=data).json()
    assert again["added"] == [] and len(again["existing"]) == expected
    offices = admin.call("GET", "/offices", "viewer").json()["offices"]
    assert len(offices) == expected
    assert admin.call("POST", "/offices/import", "viewer", data=data).status_code == 403
