"""The management report: one self-contained HTML file for the people who decide on office area.

`figures` gathers the numbers per site from the database (SPEC §6 through the analytics),
`conclusion` words them, `charts` draws them (matplotlib, embedded PNG), `page` lays
them out, `cli` is `hubsense report`.
"""
