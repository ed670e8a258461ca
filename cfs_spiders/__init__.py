"""cfs: collect public calls-for-service feeds, map them onto common elements,
keep them across runs, and compare what each city publishes with what Chicago
withholds."""

__version__ = "0.1.0"
