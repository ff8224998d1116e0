"""A set of output files that lands in its folder all together or not at all.

    folder = OutputFolder("runs/a", ["model.json", "history.json"])   # checks it can write there
    with folder:
        serialize.save(model, folder.staging_path("model.json"))
        folder.staging_path("history.json").write_text(text)
    # Leaving the block normally moves every file into place; an exception (Ctrl-C's
    # KeyboardInterrupt included) deletes the staged files instead and leaves the folder as it was.

Each file is first written under a hidden temporary name in the folder itself (so the final
move is a rename on one file system, which `os.replace` does atomically). The moves happen
only once every file is written, with Ctrl-C held back for the few milliseconds they take;
an old file is renamed aside first and put back if a later move fails, so the folder never
holds some new files next to some old ones. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
import signal
import tempfile
import threading
from types import FrameType, TracebackType
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Type, Union

__all__ = ["OutputFolder", "OutputFolderError", "check_writable"]

PathLike = Union[str, "os.PathLike[str]"]
_PREFIX = ".micrograd-"  # hidden, and recognisably ours if a crash (SIGKILL, power cut) leaves one behind


class OutputFolderError(OSError):
    """The folder cannot take the files: the message names the path and the reason."""


def check_writable(folder: PathLike, names: Sequence[str]) -> None:
    """Raise OutputFolderError unless files called `names` can be written into `folder`:
    an existing folder, or a new one whose nearest existing ancestor is a folder. Proves it
    by creating (and at once deleting) an empty file there; creates nothing that stays."""
    if not os.fspath(folder):  # pathlib.Path('') is '.': the current folder, by accident
        raise OutputFolderError("needs a folder name, got ''")
    path = pathlib.Path(folder)
    existing = path
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "broken link" if existing.is_symlink() else "file"  # a link to a folder is a folder: is_dir()
        if existing == path:
            raise OutputFolderError(f"must be a folder (or a new name), got the {what} {str(path)!r}")
        raise OutputFolderError(f"cannot create {str(path)!r}: {str(existing)!r} is a {what}, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=_PREFIX + "probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputFolderError(f"cannot write into {str(existing)!r}: {e.strerror or e}") from None
    if existing == path:
        for name in names:
            target = path / name
            if target.is_dir():
                raise OutputFolderError(f"{str(target)!r} is a folder, where a file of that name would go")


class OutputFolder:
    """Files `names` written into `folder` as one set: see the module's docstring.

    The constructor checks the folder (`check_writable`); entering the block creates it if
    missing, and an exception inside the block removes every folder the block created.
    After a normal exit, `written` lists the files moved into place and `removed` the old
    files of `names` that the block did not write (left from an earlier run, they would not
    match the new ones). A file in the folder that is not in `names` is never touched.
    """

    def __init__(self, folder: PathLike, names: Sequence[str]) -> None:
        self.folder = pathlib.Path(folder)
        self.names: Tuple[str, ...] = tuple(names)
        for name in self.names:
            if not name or os.path.basename(name) != name or name in (".", ".."):
                raise ValueError(f"OutputFolder names must be plain file names, got {name!r}")
        check_writable(self.folder, self.names)
        self.written: List[pathlib.Path] = []
        self.removed: List[pathlib.Path] = []
        self.committed = False
        self._staged: Dict[str, pathlib.Path] = {}
        self._created: List[pathlib.Path] = []

    def __enter__(self) -> "OutputFolder":
        missing = []
        path = self.folder
        while not os.path.lexists(path) and path != path.parent:
            missing.append(path)
            path = path.parent
        try:
            for path in reversed(missing):  # outermost first, as `mkdir -p` does
                path.mkdir()
                self._created.append(path)
        except BaseException:
            self._remove_created()
            raise
        return self

    def staging_path(self, name: str) -> pathlib.Path:
        """The temporary path to write file `name` to. It keeps `name`'s extension, so tools that
        pick a format by it (matplotlib's savefig) pick the right one."""
        if name not in self.names:
            raise ValueError(f"OutputFolder has no file {name!r}; its files are {list(self.names)}")
        if name not in self._staged:
            self._staged[name] = self._fresh(name)
        return self._staged[name]

    def __exit__(
        self, kind: Optional[Type[BaseException]], error: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        try:
            if kind is None:
                self._commit()
        finally:
            if not self.committed:
                self._discard()

    # --- inside ------------------------------------------------------------------------

    def _fresh(self, name: str, tag: str = "") -> pathlib.Path:
        """An unused hidden name in the folder that ends with `name`."""
        while True:
            path = self.folder / f"{_PREFIX}{tag}{secrets.token_hex(4)}-{name}"
            if not os.path.lexists(path):
                return path

    def _commit(self) -> None:
        for name in self.names:  # a folder made since the check would be renamed aside, then stay there
            if (self.folder / name).is_dir():
                raise OutputFolderError(f"{str(self.folder / name)!r} is a folder, where a file of that name would go")
        for name, path in self._staged.items():
            if not os.path.lexists(path):
                raise OutputFolderError(f"{name} was to be written to {str(path)!r}, but nothing is there")
        moves: List[Tuple[pathlib.Path, Optional[pathlib.Path], bool]] = []  # (target, old file's new name, new in?)
        with _sigint_held_back():
            try:
                for name in self.names:
                    target, staged = self.folder / name, self._staged.get(name)
                    if staged is None and not os.path.lexists(target):
                        continue
                    aside = None
                    if os.path.lexists(target):
                        aside = self._fresh(name, "old-")
                        os.replace(target, aside)
                    moves.append((target, aside, False))
                    if staged is not None:
                        os.replace(staged, target)
                        moves[-1] = (target, aside, True)
            except BaseException:
                for target, aside, new_in in reversed(moves):  # undo, newest first
                    with contextlib.suppress(OSError):  # undo all that can be undone, then report the first error
                        if new_in:
                            os.unlink(target)
                        if aside is not None:
                            os.replace(aside, target)
                raise
            self.committed = True
            for target, aside, new_in in moves:
                if aside is not None:
                    with contextlib.suppress(OSError):  # the new files are in place; a stray old copy is harmless
                        os.unlink(aside)
                (self.written if new_in else self.removed).append(target)

    def _discard(self) -> None:
        for staged in self._staged.values():
            with contextlib.suppress(OSError):  # never written, or already gone
                os.unlink(staged)
        self._remove_created()

    def _remove_created(self) -> None:
        for path in reversed(self._created):  # innermost first
            with contextlib.suppress(OSError):  # not empty: someone else put a file there; keep it
                path.rmdir()
        self._created.clear()


@contextlib.contextmanager
def _sigint_held_back() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) back until the block has finished, then deliver it as it would
    have been. Only the main thread can set a signal handler; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGINT) is None:  # a handler installed outside Python: it could not be put back
        yield
        return
    caught: List[int] = []

    def hold(signum: int, frame: Optional[FrameType]) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            signal.raise_signal(signal.SIGINT)  # the previous handler's turn: KeyboardInterrupt by default
