"""A git scraper's clone, read with plumbing commands only (no hooks, no checkout):
the first-parent history of a file and the bytes each commit gave it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# commits read per batch by `cfs import-git` (its --chunk default); here, in a
# module of the standard library only, so the command line reads it without
# importing the importer
DEFAULT_CHUNK = 200


class ImportGitError(RuntimeError):
    """The import cannot go on (not a git repository, bad range, a worker died)."""


@dataclass(frozen=True)
class Commit:
    sha: str
    at: datetime  # the commit (or author) time: the snapshot's fetch time
    path: str | None  # the file this commit gives, None when it only deleted it
    blob: str | None
    order: int  # position in the first-parent history, oldest first


class Repo:
    """A local clone, read with plumbing commands only (no hooks, no checkout)."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path).expanduser()
        if not path.is_dir():
            raise ImportGitError(f"{path}: no such folder")
        top = self._git(["rev-parse", "--show-toplevel"], cwd=path).decode().strip()
        self.root = Path(top).resolve()

    @staticmethod
    def _git(args: list[str], *, cwd: Path, stdin: bytes | None = None) -> bytes:
        env = {
            **os.environ,
            "GIT_LITERAL_PATHSPECS": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
        try:
            done = subprocess.run(
                ["git", "-c", "core.quotepath=off", *args],
                cwd=cwd,
                input=stdin,
                capture_output=True,
                env=env,
                check=False,
            )
        except FileNotFoundError:
            raise ImportGitError("git is not installed") from None
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()
            raise ImportGitError(f"git {args[0]} in {cwd}: {message}")
        return done.stdout

    def git(self, args: list[str], stdin: bytes | None = None) -> bytes:
        return self._git(args, cwd=self.root, stdin=stdin)

    def commits(
        self, paths: list[str], *, rev: str = "HEAD", time: str = "committer"
    ) -> list[Commit]:
        """Commits of the first-parent history of ``rev`` that changed one of
        ``paths``, oldest first, each with the file it gives."""
        for p in paths:
            if not p or "\n" in p or p.startswith("/"):
                raise ImportGitError(f"--path {p!r}: give a path inside the repository")
        if rev.startswith("-"):
            raise ImportGitError(f"--rev {rev!r}: not a revision")
        out = self.git(
            ["log", "--first-parent", "--format=%H %ct %at", rev, "--", *paths]
        ).decode("ascii")
        rows = [line.split() for line in out.splitlines() if line.strip()]
        rows.reverse()
        # Blob of each path in each commit and in its first parent, in one batch.
        names = []
        for sha, _, _ in rows:
            for p in paths:
                names.append(f"{sha}:{p}")
                names.append(f"{sha}^:{p}")
        blobs = self._blob_ids(names)
        commits = []
        for i, (sha, ct, at) in enumerate(rows):
            chosen: tuple[str, str] | None = None
            for p in paths:
                now, before = blobs[f"{sha}:{p}"], blobs[f"{sha}^:{p}"]
                if now is not None and now != before:
                    chosen = (p, now)
                    break
            stamp = int(ct if time == "committer" else at)
            commits.append(
                Commit(
                    sha=sha,
                    at=datetime.fromtimestamp(stamp, UTC),
                    path=chosen[0] if chosen else None,
                    blob=chosen[1] if chosen else None,
                    order=i,
                )
            )
        commits.sort(key=lambda c: (c.at, c.order))
        return commits

    def _blob_ids(self, names: list[str]) -> dict[str, str | None]:
        if not names:
            return {}
        out = self.git(
            ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
            stdin="".join(f"{n}\n" for n in names).encode("utf-8"),
        )
        found: dict[str, str | None] = {}
        for name, line in zip(names, out.decode("utf-8").splitlines(), strict=True):
            parts = line.split()
            found[name] = parts[0] if len(parts) == 2 and parts[1] == "blob" else None
        return found

    def blobs(self, ids: list[str]) -> list[bytes]:
        """The contents of blobs, in order, from one ``git cat-file --batch``."""
        if not ids:
            return []
        out = self.git(
            ["cat-file", "--batch"],
            stdin="".join(f"{i}\n" for i in ids).encode("ascii"),
        )
        contents, pos = [], 0
        for oid in ids:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            if len(header) != 3 or header[1] != b"blob":
                raise ImportGitError(f"blob {oid}: {out[pos:end]!r}")
            size = int(header[2])
            contents.append(out[end + 1 : end + 1 + size])
            pos = end + 1 + size + 1
        return contents
