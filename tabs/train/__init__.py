"""The Train tab (tab.py) and its parts: the settings, the live charts, the game's view, the visitor's runs."""
