"""One ``tessera`` command (evaluate, benchmark, predict) in a subprocess,
followed with QProcess: the studio never evaluates or predicts in its own
process, and its event loop never waits for one."""
from __future__ import annotations

import json

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from core.jobs.runner import cli_command, worker_environment
from core.progress import PROGRESS_ENV


class CoreTask(QObject):
    """``finished(ok, stdout, error)``; ``error`` is the command's last
    stderr line (our one-line messages) when it fails."""

    finished = Signal(bool, str, str)
    progress = Signal(str)
    fraction = Signal(int, int, str)  # done, total (0: unknown), message: the command's progress lines

    def __init__(self, args: list[str], parent=None):
        super().__init__(parent)
        self.args = args
        self.process = QProcess(self)
        env = QProcessEnvironment()
        for key, value in worker_environment().items():
            env.insert(key, value)
        env.insert(PROGRESS_ENV, "json")
        self.process.setProcessEnvironment(env)
        self.process.readyReadStandardError.connect(self._stderr)
        self.process.finished.connect(self._done)
        self.process.errorOccurred.connect(self._failed_to_start)
        self._err = ""
        self._partial = ""

    def start(self) -> "CoreTask":
        command = cli_command(self.args)
        self.process.start(command[0], command[1:])
        return self

    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def kill(self) -> None:
        if self.running():
            self.process.kill()
            self.process.waitForFinished(2000)

    def _stderr(self) -> None:
        text = self._partial + bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        text, _, self._partial = text.replace("\r", "\n").rpartition("\n")  # a line cut between reads waits
        lines = []
        for line in text.splitlines():
            if line.startswith('{"v": 1, "type": "progress"'):
                try:
                    event = json.loads(line)
                    self.fraction.emit(int(event["done"]), int(event["total"] or 0), str(event["message"]))
                    continue
                except (ValueError, KeyError, TypeError):
                    pass
            if line.strip():
                lines.append(line)
        self._err += "".join(line + "\n" for line in lines)
        if lines:
            self.progress.emit(lines[-1].strip())

    def _done(self, code: int, status) -> None:
        out = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        self._err += self._partial
        lines = [line for line in self._err.replace("\r", "\n").splitlines() if line.strip()]
        ok = code == 0 and status == QProcess.ExitStatus.NormalExit
        self.finished.emit(ok, out, "" if ok else (lines[-1] if lines else f"exit status {code}"))

    def _failed_to_start(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.finished.emit(False, "", f"could not start {' '.join(cli_command(self.args))}")
