"""Tests of the composition root and its tools."""
