"""`python -m archbench` runs the command line."""

from archbench.cli import main

main()
