"""Comparison reports: figures, the HTML and Markdown pages, and the files beside them."""
