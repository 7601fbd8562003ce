"""Hard-link installed distributions of this interpreter's environment into another environment.

Usage: python link_installed.py SITE_PACKAGES PATTERN...

Every distribution whose name matches one of the shell-style PATTERNs (torch, ``nvidia-*``) has each of its
files under site-packages linked into SITE_PACKAGES, its metadata included, so that pip there finds it
installed at the same version; files it installs elsewhere (console scripts) are left out. Where a link
cannot be made (another file system), the file is copied.
"""

import fnmatch
import importlib.metadata
import os
import shutil
import sys
from pathlib import Path


def link_distribution(dist: importlib.metadata.Distribution, target: Path) -> int:
    """Link (or copy) the files of one distribution into ``target``; the number of bytes they hold."""
    size = 0
    for file in dist.files or []:
        if file.parts[0] == "..":
            continue
        source = Path(dist.locate_file(file))
        if not source.is_file():
            continue
        destination = target / file
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)
        size += source.stat().st_size
    return size


def main(target: str, *patterns: str) -> None:
    chosen = [
        dist
        for dist in importlib.metadata.distributions()
        if any(fnmatch.fnmatch(dist.metadata["Name"].lower(), pattern) for pattern in patterns)
    ]
    size = sum(link_distribution(dist, Path(target)) for dist in chosen)
    names = ", ".join(sorted(f"{dist.metadata['Name']}=={dist.version}" for dist in chosen))
    print(f"linked {len(chosen)} distributions ({size / 2**30:.1f} GiB): {names}")


if __name__ == "__main__":
    main(*sys.argv[1:])
