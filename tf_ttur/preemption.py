"""Preemption: SIGTERM or SIGINT stops training after the current step.

A cluster scheduler (Slurm, Kubernetes, a cloud's spot VMs) sends SIGTERM
and waits a grace period before SIGKILL; a user presses Ctrl-C. Either way
the step being computed finishes, fit()'s own end-of-epoch and end-of-train
callbacks write that step's metrics record and checkpoint, and the program
exits with errors.PREEMPTED_EXIT_CODE (75); the same command resumes at exactly
that step. A
second signal while stopping acts as it would without this module
(SIGINT: KeyboardInterrupt; SIGTERM: the process ends), which is safe
because every file of the run directory is written under a temporary name.
"""

from __future__ import annotations

import signal
import threading

import keras

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class SignalCatcher(keras.callbacks.Callback):
  """Records SIGTERM/SIGINT while installed (a context manager) and, as a
  fit() callback, ends training after the batch in which one arrived."""

  def __init__(self):
    super().__init__()
    self.received: int | None = None
    self._previous = {}

  @property
  def name(self) -> str | None:
    return None if self.received is None else signal.Signals(self.received).name

  def _handle(self, signum, frame):
    del frame
    self.received = signum
    # The next signal is handled as if this catcher were not installed.
    self._restore()

  def _restore(self) -> None:
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}

  def __enter__(self) -> SignalCatcher:
    # Python delivers signals to the main thread only; elsewhere (a test
    # calling train() from a thread) the default handling stays.
    if threading.current_thread() is threading.main_thread():
      self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
    return self

  def __exit__(self, *exc) -> None:
    self._restore()

  def on_train_batch_end(self, batch, logs=None):
    # fit() resets stop_training when it starts: a signal received before
    # (or between two fit() calls) stops it after its first step.
    if self.received is not None:
      self.model.stop_training = True
