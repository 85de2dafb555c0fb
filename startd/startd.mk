# startd/: see ../shared/DESIGN.md §1 and docs/architecture.md.  Nothing is
# built here yet; the issue that delivers startd adds its sources and rules.
