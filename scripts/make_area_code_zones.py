"""Write app/core/data/nanp_area_code_zones.json: the NANP area codes that span more
than one time zone, and every zone each spans.

Source: libphonenumber's time-zone map (the `phonenumbers` package's
`phonenumbers.tzdata`, Apache-2.0), which maps number prefixes (an area code, or an
area code and exchange) to IANA zones. An area code's zones are the union over its
prefixes. Overlays that libphonenumber maps to one zone but that serve the same
places as a split code (`OVERLAYS`) take that code's zones. Run it again when
`phonenumbers` is upgraded; `tests/core/test_quiet_hours.py` fails if the table
drifts from the installed library:

    .venv/bin/python scripts/make_area_code_zones.py
"""

from __future__ import annotations

import json
from pathlib import Path

from phonenumbers import tzdata

DATA = Path(__file__).resolve().parents[1] / "app/core/data"

#: overlay → the code whose area it covers (NANPA's overlay plans)
OVERLAYS = {
    "448": "850",  # northwest Florida panhandle
    "458": "541",  # Oregon outside Portland (Malheur County: Mountain)
    "364": "270",  # western Kentucky
    "930": "812",  # southern Indiana
    "236": "250",  # British Columbia (with 604)
    "672": "250",
    "778": "250",
    "581": "418",  # eastern Quebec
    "367": "418",
}


def zones_by_area_code(codes: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for npa in codes:
        prefix = "1" + npa
        zones: set[str] = set()
        for key, value in tzdata.TIMEZONE_DATA.items():
            if key.startswith(prefix):
                zones.update(value)
        if len(zones) > 1:
            out[npa] = sorted(zones)
    for overlay, base in OVERLAYS.items():
        if overlay in codes and base in out:
            out[overlay] = sorted(set(out.get(overlay, [])) | set(out[base]))
    return dict(sorted(out.items()))


def main() -> None:
    codes = sorted(json.loads((DATA / "nanp_area_codes.json").read_text(encoding="utf-8")))
    table = zones_by_area_code(codes)
    text = json.dumps(table, separators=(",", ":"), sort_keys=True)
    (DATA / "nanp_area_code_zones.json").write_text(text + "\n", encoding="utf-8")
    print(f"{len(table)} area codes span more than one zone")


if __name__ == "__main__":
    main()
