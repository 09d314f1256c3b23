"""C kernels for sweeps PyTorch runs slowly, built on first use (build.py) where a C compiler
exists; without one, the PyTorch path in atlas.networks.fused runs unchanged."""
