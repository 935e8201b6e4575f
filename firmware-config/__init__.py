"""The sample files installers copy (node.yaml, the edge's systemd unit, the example inventory).

Not code: this file makes the folder the data package `hubsense.firmware_config`, so an
installed wheel carries the very files `hubsense provision node` puts in a bundle and
`hubsense demo` simulates; read them with `importlib.resources`, never by a source path.
"""
