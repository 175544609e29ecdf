"""Tests of the proxying domain."""
