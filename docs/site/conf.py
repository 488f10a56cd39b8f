# Sphinx configuration of the course site. Build it with `make site` (scripts/build_site.py stages the
# executed lessons and the landing page, then runs sphinx-build with this folder as its configuration).
# Offline: nothing is executed here (the lessons arrive executed), nothing is loaded from the internet.

project = "Training Deep Networks"
author = "the course's authors"
copyright = "the course's authors, MIT licence"

extensions = [
    "myst_nb",                 # notebooks and Markdown pages (MyST)
    "sphinx-mathjax-offline",  # MathJax served from the site itself, not from a CDN
]

root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# The lessons arrive executed (one execution: the lesson tests keep theirs in build/executed/).
nb_execution_mode = "off"
# A widget view needs a live kernel: the site shows the static copy every explorer carries (its first
# frame with alt text and caption, as HTML) and the saved state of the other widgets, drawn as HTML by
# the build script. So widget views are never rendered, and no widget manager is loaded from a CDN.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_output_stderr = "show"

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = project
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "description": "a hands-on methodology course",
    "page_width": "1180px",
    "sidebar_width": "230px",
    "show_relbars": True,
    "font_family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "head_font_family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}

