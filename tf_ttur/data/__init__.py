"""Input pipelines: images (TFDS, folders, the offline `shapes`) and text."""
