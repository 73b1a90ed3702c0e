"""Active learning of MTPs: reference calculators, initial data, the closed loop, local learning.

This package must stay importable without MPI (its reference worker runs as a plain
subprocess); MPI is only touched through ``argyro_run._stack`` inside functions that take a comm.
"""
