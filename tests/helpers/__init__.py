"""Helpers shared by the test layers; pyproject puts tests/ on sys.path as ``helpers``."""
