"""The inventory: what exists (organisation, sites, desks, nodes, sensors) — docs/inventory.md.

`model` holds the pydantic models and their checks, `file` reads a YAML file with errors that
name file, line and field, `rules` the checks across the whole file, `cli` is
`hubsense inventory`.
"""
