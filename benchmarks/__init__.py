"""`make bench`: l0's cost as ratios against bare iteration, measured in one run."""
