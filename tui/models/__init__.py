"""The model catalog around the engines: groups, fit verdicts, downloads, imports, favourites.

Above tui.engines: it may import the engine contract, never the reverse. The arithmetic it shows
(free memory, fit, GPU layers) is tui.fit's; what a backend would load a model with, its engine's.
"""
