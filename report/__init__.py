"""The management report: one self-contained HTML file for the people who decide on office area.

`figures` gathers the numbers per site from the database (docs/metrics.md through the analytics:
the rollups when they cover the period, read by `rollups`, else computed from the
events), `conclusion` words them, `charts` draws them (matplotlib, embedded PNG), `page`
lays them out, `document.write_report` writes the file (for the CLI and the demo), `cli`
is `hubsense report`.
"""
