"""The ML inference pipeline shared by both architectures: records, stages, model bundle, errors."""
