"""Tools for the test suite that anyone can run (`python -m tests.tools.imports`)."""
