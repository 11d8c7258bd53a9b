"""Will a model fit, and how much of it goes on the GPU: free memory, the fit estimate in bytes,
the offload plan in layers, and the compute buffers earlier loads logged.

Below both tui.engines and tui.models: the embedded engine plans its loads with it and the
catalog shows the same figures, without either importing the other.
"""
