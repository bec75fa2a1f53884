"""A plain-text progress bar on stderr (no dependency).

On a terminal one line is redrawn with a carriage return; otherwise (a log,
a pipe) each job gets its own line.
"""
import sys
import time


class Progress:
    def __init__(self, stream=None, width=24):
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.last_len = 0

    def __call__(self, done, total, job):
        elapsed = time.perf_counter() - self.start
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        label = job.label() if job is not None else "done"
        line = f"[{bar}] {done}/{total} {elapsed:5.1f}s {label}"
        if self.tty:
            self.stream.write("\r" + line.ljust(self.last_len))
            self.last_len = len(line)
            if job is None:
                self.stream.write("\n")
                self.last_len = 0
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        """End the bar's line (after an interrupted run)."""
        if self.tty and self.last_len:
            self.stream.write("\n")
            self.stream.flush()
            self.last_len = 0
