"""The hostile-input matrix: one module per group of surfaces, one test per cell (surface__case)."""
