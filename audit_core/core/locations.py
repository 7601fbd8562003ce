"""Where run folders live: a local folder (a ``Path``) or an object-store URL (``s3://``, ``gs://``,
``az://``) read and written through fsspec. A ``file://`` URL is a local folder. Credentials come from the
filesystem package's usual environment (``AWS_*`` for s3fs, ...), never from a config.

Example:
    >>> parse_location("s3://audits/out/")
    's3://audits/out'
    >>> parse_location("file:///srv/audits")
    PosixPath('/srv/audits')
    >>> join("s3://audits/out", "demo", "latest")
    's3://audits/out/demo/latest'
"""

from pathlib import Path
from urllib.parse import unquote, urlsplit

import fsspec
from fsspec import AbstractFileSystem

Location = Path | str  # a local folder, or the URL of a folder on an object store

#: URL scheme -> the fsspec filesystem package that serves it
OBJECT_STORES = {
    "s3": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
}


def parse_location(value: object) -> Location:
    """A local ``Path`` for a folder or ``file://`` URL; the URL itself (no trailing slash) for an object
    store; a ``ValueError`` for any other scheme."""
    if isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a folder or a URL")
    scheme, separator, _ = value.partition("://")
    if not separator:
        return Path(value)
    scheme = scheme.lower()
    if scheme == "file":
        return Path(unquote(urlsplit(value).path))
    if scheme not in OBJECT_STORES:
        raise ValueError(
            f"has the unknown scheme '{scheme}://'; expected a folder or a file://, "
            f"{', '.join(f'{s}://' for s in OBJECT_STORES)} URL"
        )
    return value.rstrip("/")


def is_remote(location: Location) -> bool:
    """True for an object-store URL."""
    return not isinstance(location, Path)


def join(location: Location, *parts: str) -> Location:
    """``location`` with ``parts`` appended, of the same kind."""
    if isinstance(location, Path):
        return location.joinpath(*parts)
    return "/".join([location, *parts])


def filesystem(location: Location) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of ``location`` and the path on it; an ``ImportError`` names the missing
    filesystem package."""
    return fsspec.core.url_to_fs(str(location))


def browser_url(location: Location, expires_s: int) -> str | None:
    """A URL a browser can open for a file on an object store (presigned for ``expires_s`` seconds where the
    store signs URLs, else the store's own URL); None for a local file."""
    if not is_remote(location):
        return None
    fs, path = filesystem(location)
    try:
        return fs.url(path, expires=expires_s)
    except (AttributeError, NotImplementedError, TypeError):  # stores without signed or public URLs
        return str(location)
