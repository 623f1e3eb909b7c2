"""The `archbench` command line."""
