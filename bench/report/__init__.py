"""What a run shows a person: the report page and its figures (page.py, figures/; these import
matplotlib, so only the report's own process loads them) and the console tables every command
prints (console.py, cost_console.py: Rich only)."""
