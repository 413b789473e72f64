# samples: example targets and patches (filled by later issues)
.PHONY: samples-build
samples-build:
