.PHONY: tests-build
tests-build:
