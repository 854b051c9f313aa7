"""Speed and quality measurements. Each module runs with `python -m benchmarks.<name>`."""
