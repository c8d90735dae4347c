"""One module a tab: the components and their wiring, calling plain functions elsewhere."""
