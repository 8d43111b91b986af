"""Run scripts/mongoeco_server.py as a process, seeded in-process from a dump file, for pymongo clients."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

import pymongo

from librechat_metrics.synthetic.dump import write_dump
from librechat_metrics.target import REQUIRED
from tests.support.process import terminate

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "scripts" / "mongoeco_server.py"
PYTHON = ROOT / ".venv" / "bin" / "python"
START_TIMEOUT = 120.0  # seconds, plus 4 s per MB of dump (the launcher loads roughly 1 MB/s)


def _cleanup(procs: list[subprocess.Popen], workdir: str) -> None:
    for proc in procs:
        terminate(proc)
    shutil.rmtree(workdir, ignore_errors=True)


class MongoServer:
    """A mongoeco wire server process serving the documents it was started with."""

    def __init__(self, dump: Path, workdir: str, port: int | None) -> None:
        self.dump = dump
        self.workdir = workdir
        self.port = port or 0
        self.proc: subprocess.Popen | None = None
        self._procs: list[subprocess.Popen] = []
        self._finalizer = weakref.finalize(self, _cleanup, self._procs, workdir)

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def client(self, **kwargs) -> pymongo.MongoClient:
        """A new pymongo client (tz_aware=True unless given); the caller closes it."""
        options = {"tz_aware": True, "serverSelectionTimeoutMS": 10_000, **kwargs}
        return pymongo.MongoClient(self.uri, **options)

    def start(self) -> MongoServer:
        """Start the process (on self.port, 0 = any) and wait until a ping answers."""
        ready = Path(self.workdir) / "port"
        ready.unlink(missing_ok=True)
        python = str(PYTHON) if PYTHON.exists() else sys.executable
        cmd = [python, str(LAUNCHER), "--port", str(self.port), "--load", str(self.dump)]
        cmd += ["--ready-file", str(ready)]
        log = open(Path(self.workdir) / "server.log", "ab")  # noqa: SIM115 - handed to the child
        with log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self._procs.append(self.proc)
        deadline = time.monotonic() + START_TIMEOUT + 4 * self.dump.stat().st_size / 1e6
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mongoeco server did not start:\n{self.log()[-3000:]}")
            time.sleep(0.05)
        self.port = int(ready.read_text())
        with self.client(serverSelectionTimeoutMS=2_000) as client:
            while True:
                try:
                    client.admin.command("ping")
                    return self
                except pymongo.errors.PyMongoError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise
                    time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM the server (SIGKILL after 10 s). The dump stays, for restart()."""
        if self.proc is not None:
            terminate(self.proc)
            self._procs.remove(self.proc)
            self.proc = None

    def restart(self) -> MongoServer:
        """Stop if running, then serve the originally loaded documents again on the same port."""
        self.stop()
        return self.start()

    def log(self) -> str:
        path = Path(self.workdir) / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> MongoServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_mongoeco(
    collections: dict[str, list[dict]] | None = None,
    port: int | None = None,
    db: str = "LibreChat",
    core: bool = True,
) -> MongoServer:
    """Serve `collections` (database `db`) from a new mongoeco process on 127.0.0.1.

    The documents are written to a dump file and inserted in-process by the launcher (wire inserts are
    slow). `port` None or 0 picks a free port. With `core`, LibreChat's always-present collections are
    created empty where `collections` lacks them (as LibreChat does at start-up), so the target check
    passes; `core=False` serves exactly `collections`.
    """
    workdir = tempfile.mkdtemp(prefix="mongoeco-")
    dump = Path(workdir) / "dump.bson"
    collections = dict(collections or {})
    if core:
        for name in REQUIRED:
            collections.setdefault(name, [])
    write_dump(dump, collections, db)
    return launch(dump, port, workdir)


def launch(dump: str | Path, port: int | None = None, workdir: str | None = None) -> MongoServer:
    """Serve an existing write_dump() file."""
    return MongoServer(Path(dump), workdir or tempfile.mkdtemp(prefix="mongoeco-"), port).start()
