"""Third-party notices: which packages this program ships and under which licences.

Help > About shows them, the installers ship them (`packaging/licenses/` plus a
`THIRD_PARTY_NOTICES.txt` written at build time by `python -m app.licenses`).
From a source checkout they are read from the installed packages' metadata.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

NOTICES_FILE = "THIRD_PARTY_NOTICES.txt"
# What the desktop app (with its demo) runs on; their own dependencies follow.
ROOTS = ("web2text",)
# (the installers ship the demo, which runs the relay in the app's process)
EXTRAS = ("desktop", "relay", "demo")
EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def licenses_dir() -> Path | None:
    """The folder of licence texts: the installed program's, or the checkout's."""
    bundle = getattr(sys, "_MEIPASS", None)
    candidates = [Path(bundle) / "licenses"] if bundle else []
    candidates.append(Path(__file__).resolve().parents[1] / "packaging" / "licenses")
    return next((c for c in candidates if c.is_dir()), None)


def qt_notice() -> str:
    folder = licenses_dir()
    path = folder / "QT-NOTICE.txt" if folder else None
    if path and path.exists():
        return path.read_text(encoding="utf-8")
    return "Qt and PySide6 are used under the GNU LGPL v3 (https://www.gnu.org/licenses/lgpl-3.0)."


def _field(meta: metadata.PackageMetadata, name: str) -> str:
    values = meta.get_all(name) or []
    return str(values[0]) if values else ""


def _license_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = _field(meta, "License-Expression")
    if expression:
        return str(expression)
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::") and c.split("::")[-1].strip() != "OSI Approved"
    ]
    if classifiers:
        return ", ".join(classifiers)
    short = _field(meta, "License").strip().splitlines()
    return short[0][:80] if short else "see the package"


def _requirements(dist: metadata.Distribution, extras: tuple[str, ...]) -> list[str]:
    """The names `dist` requires, with those of `extras` (a platform's own are kept:
    a package not installed here is skipped when it is looked up)."""
    names = []
    for raw in dist.requires or []:
        requirement, _, marker = raw.partition(";")
        extra = EXTRA_MARKER.search(marker)
        if extra is None or extra.group(1) in extras:
            names.append(re.split(r"[\s\[<>=!~(]", requirement.strip(), maxsplit=1)[0])
    return names


def shipped() -> list[tuple[str, str, str]]:
    """(name, version, licence) of every package the app runs on, sorted by name."""
    seen: dict[str, tuple[str, str, str]] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [(name, EXTRAS) for name in ROOTS]
    while todo:
        name, extras = todo.pop()
        key = canonical(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if key != "web2text":
            seen[key] = (dist.metadata["Name"], dist.version, _license_of(dist))
        else:
            seen[key] = ("", "", "")
        todo += [(req, ()) for req in _requirements(dist, extras)]
    return sorted((v for k, v in seen.items() if k != "web2text"), key=lambda v: v[0].lower())


def third_party_notices() -> str:
    """The notices text: the bundled file in an installed program, else made now."""
    folder = licenses_dir()
    bundled = folder / NOTICES_FILE if folder else None
    if bundled and bundled.exists():
        return bundled.read_text(encoding="utf-8")
    return render(shipped())


def render(packages: list[tuple[str, str, str]]) -> str:
    lines = [
        qt_notice().rstrip(),
        "",
        "Web2Text is also built on these open-source packages (name, version, licence);",
        "their licence texts come with each package.",
        "",
    ]
    lines += [f"{name} {version} — {licence}" for name, version, licence in packages]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(shipped()) + "\n")
