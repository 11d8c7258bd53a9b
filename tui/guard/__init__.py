"""What guards lchat's edges: outside files and pipes read within a limit, HTTP replies read within
a limit, and outside text made safe before it reaches a terminal or a widget."""
