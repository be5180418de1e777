"""Is the studio's event loop ever blocked while a job trains?  Offscreen, on
the small demo: a segmentation job is started through the Training panel and a
10 ms timer measures how late each of its ticks is, until the job completes.

    QT_QPA_PLATFORM=offscreen python bench/ui_latency.py [--epochs 4]

JSON out: lateness p50 / p95 / max in ms (goal: max < 50 ms), epochs seen.
Not a test: run by hand and record the figures."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TESSERA_HOME", tempfile.mkdtemp(prefix="tessera-bench-"))

from core.appdirs import configure_environment  # noqa: E402

configure_environment()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    import numpy as np
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from core.demo import build_demo
    from studio.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        build_demo(Path(tmp) / "p", "all", "small")[0].close()
        app = QApplication.instance() or QApplication([])
        window = MainWindow(Path(tmp) / "p")
        window.resize(1400, 900)
        window.show()
        app.processEvents()
        panel = window.training
        form = panel.new_job("segmentation")
        for key, value in {"architecture": "unet", "encoder": "resnet18", "image_size": "64", "batch_size": "4",
                           "workers": "0", "epochs": str(args.epochs)}.items():
            form.set_value(key, value)
        late, last, done = [], [time.perf_counter()], []

        def tick() -> None:
            now = time.perf_counter()
            late.append(now - last[0] - 0.010)
            last[0] = now
            job = panel.shown_job
            if job is not None and window.project.jobs.get(job).state in ("completed", "failed"):
                done.append(window.project.jobs.get(job).state)
                app.quit()

        timer = QTimer(interval=10)
        timer.timeout.connect(tick)
        timer.start()
        t0 = time.perf_counter()
        panel.start()
        app.exec()
        ms = np.asarray(late[1:]) * 1000
        out = {"job": done[0] if done else "unfinished", "seconds": round(time.perf_counter() - t0, 1),
               "epochs_drawn": panel.curves.points("train_loss"), "ticks": len(ms),
               "lateness_p50_ms": round(float(np.percentile(ms, 50)), 2),
               "lateness_p95_ms": round(float(np.percentile(ms, 95)), 2),
               "lateness_max_ms": round(float(ms.max()), 2)}
        window.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
