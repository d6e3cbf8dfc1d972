"""The benchmark suite of class_ddpm: `python -m benchmarks list`, `python -m benchmarks run NAME [--quick]`."""
