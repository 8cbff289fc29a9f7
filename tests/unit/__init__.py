"""Unit tests (a package, so that module names may repeat in tests/e2e/)."""
