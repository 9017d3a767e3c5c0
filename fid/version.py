"""The version of the project (fid, tf_ttur and the install), written once;
a leaf, so that any module of fid can record it."""

__version__ = "0.9.0"
