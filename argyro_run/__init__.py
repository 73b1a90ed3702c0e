"""argyro-run: Li-ion transport in polycrystalline argyrodites, from first principles to the continuum."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("argyro-run")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

__all__ = ["__version__", "open_archive"]


def open_archive(path):
    """Open a results archive for reading (numpy arrays / ASE Atoms). See ``argyro_run.archive``."""
    from argyro_run.archive import open_archive as _open

    return _open(path)
