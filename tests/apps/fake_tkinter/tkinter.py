"""Stands in for Debian's python3-tk in tests: importing it is what costs a server ~3.5 MiB."""
IS_THE_TEST_STAND_IN = True
