"""The `archbench` subcommands, one module each: its arguments and the function that runs it."""
