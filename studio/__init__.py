"""Tessera Studio's GUI (PySide6, pyqtgraph): widgets and controllers only.

All work (training, scoring, export) runs in the Qt-free ``core`` package, in
worker subprocesses; this package only shows it.  The window arrives with the
viewer issue; until then ``make run`` builds the demo project and prints it."""
