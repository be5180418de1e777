"""The packaged app's entry point.

The frozen ``tessera`` is the same command as the source one: ``tessera gui``,
``tessera train …``, and ``tessera worker …``, which is how the studio and the
CLI start their training, scoring and export workers from a packaged build
(``core.jobs.runner.worker_command``).  Without arguments (a double click, the
desktop entry) it opens the studio on its welcome page."""
import multiprocessing
import os
import sys


def main() -> int:
    multiprocessing.freeze_support()  # spawned children (Windows, macOS) run their target, not the CLI
    # PyInstaller's matplotlib hook points matplotlib at a throwaway folder (its font cache
    # rebuilt at every start); the app's own data folder keeps it (core/appdirs.py)
    os.environ.pop("MPLCONFIGDIR", None)
    from core.cli.main import main as cli

    return cli(sys.argv[1:] or ["gui"])


if __name__ == "__main__":
    sys.exit(main())
