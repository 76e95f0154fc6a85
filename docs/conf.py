project = "oscar_loyalty"
author = "oscar_loyalty contributors"
copyright = "2026, oscar_loyalty contributors"
extensions = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
