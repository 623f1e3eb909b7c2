"""Running a bench: the harness, its fault plan and injection, its extra parts, Locust as a "
"child."""
