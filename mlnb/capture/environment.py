"""The Python environment in use: which installed distributions provide the modules code imports.

Used for a run's provenance (the packages a kernel has imported), a model's ``requirements.txt``
and an exported project's pinned requirements. The module -> distribution map is read once per
process (``importlib.metadata`` walks every installed package) and cached.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterable
from functools import lru_cache

# Import names whose distribution is not found by the metadata map (namespace packages etc.).
_KNOWN = {"sklearn": "scikit-learn", "yaml": "PyYAML", "skimage": "scikit-image", "cv2": "opencv-python",
          "PIL": "pillow", "bs4": "beautifulsoup4"}


@lru_cache(maxsize=1)
def _module_to_distributions() -> dict[str, list[str]]:
    from importlib import metadata  # importlib.metadata (and email, zipfile): off `import mlnb`

    return {k: list(v) for k, v in metadata.packages_distributions().items()}


def current_user() -> str:
    """The operating-system user running this process, as MLflow records it, or "".

    ``$USER`` (``%USERNAME%`` on Windows), then the password database: root in a container has
    no ``$USER`` but is 'root'; a container's arbitrary uid has no name at all.
    """
    name = os.environ.get("USER") or os.environ.get("USERNAME")
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return ""


def python_version() -> str:
    """This interpreter's version, as ``3.11.7``."""
    return ".".join(map(str, sys.version_info[:3]))


def is_stdlib(module: str) -> bool:
    """Whether an import name belongs to the standard library (or is built in).

    :param module: a dotted import name.
    """
    return module.split(".")[0] in sys.stdlib_module_names or module in sys.builtin_module_names


@lru_cache(maxsize=512)
def distribution_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed.

    :param distribution: the distribution's name (as pip knows it).
    """
    from importlib import metadata  # importlib.metadata (and email, zipfile): off `import mlnb`

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def distributions_for(modules: Iterable[str]) -> dict[str, str]:
    """``{distribution: version}`` of the installed packages that provide these import names.

    Standard-library and unknown (local) modules are left out.

    :param modules: import names.
    """
    found: dict[str, str] = {}
    for module in modules:
        top = module.split(".")[0]
        if not top or top.startswith("_") or is_stdlib(top):
            continue
        for dist in _distributions_of(top):
            version = distribution_version(dist)
            if version is not None:
                found[_canonical(dist)] = version
    return dict(sorted(found.items()))


@lru_cache(maxsize=1024)
def _distributions_of(top: str) -> tuple[str, ...]:
    # Most import names are their distribution's name: try that before the full scan of every
    # installed package's file list, which costs hundreds of milliseconds.
    for guess in (_KNOWN.get(top), top, top.replace("_", "-")):
        if guess and distribution_version(guess) is not None:
            return (guess,)
    return tuple(_module_to_distributions().get(top, ()))


def pinned_requirements(modules: Iterable[str], extra: Iterable[str] = ("mlnb",)) -> list[str]:
    """``name==version`` lines for the distributions behind ``modules``, plus ``extra`` ones.

    :param modules: import names.
    :param extra: distributions pinned as well, when installed.
    """
    pins = distributions_for(modules)
    for dist in extra:
        version = distribution_version(dist)
        if version is not None:
            pins[_canonical(dist)] = version
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-")
