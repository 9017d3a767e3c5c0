"""The one-line form of an error, for fid's messages (tf_ttur.errors has
the same for the trainer, which must not import fid's TensorFlow at
start-up)."""


def first_line(error: BaseException) -> str:
  """An exception's message cut to its first line (TensorFlow's OpError
  message without its traceback-like tail), or its type's name."""
  text = (getattr(error, "message", None) or str(error)).strip()
  return text.splitlines()[0] if text else type(error).__name__
