"""A lesson by link and a class board: the page's state as a URL query, and the class's runs side by side (torch-free)."""
