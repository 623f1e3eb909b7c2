"""The monolith: one process walking the pipeline's stages in-process."""
