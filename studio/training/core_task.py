"""One ``tessera`` command (evaluate, benchmark, predict) in a subprocess,
followed with QProcess: the studio never evaluates or predicts in its own
process, and its event loop never waits for one."""
from __future__ import annotations

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from core.jobs.runner import cli_command, worker_environment


class CoreTask(QObject):
    """``finished(ok, stdout, error)``; ``error`` is the command's last
    stderr line (our one-line messages) when it fails."""

    finished = Signal(bool, str, str)
    progress = Signal(str)

    def __init__(self, args: list[str], parent=None):
        super().__init__(parent)
        self.args = args
        self.process = QProcess(self)
        env = QProcessEnvironment()
        for key, value in worker_environment().items():
            env.insert(key, value)
        self.process.setProcessEnvironment(env)
        self.process.readyReadStandardError.connect(self._stderr)
        self.process.finished.connect(self._done)
        self.process.errorOccurred.connect(self._failed_to_start)
        self._err = ""

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
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        self._err += text
        last = [line for line in text.replace("\r", "\n").splitlines() if line.strip()]
        if last:
            self.progress.emit(last[-1].strip())

    def _done(self, code: int, status) -> None:
        out = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        lines = [line for line in self._err.replace("\r", "\n").splitlines() if line.strip()]
        ok = code == 0 and status == QProcess.ExitStatus.NormalExit
        self.finished.emit(ok, out, "" if ok else (lines[-1] if lines else f"exit status {code}"))

    def _failed_to_start(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.finished.emit(False, "", f"could not start {' '.join(cli_command(self.args))}")
