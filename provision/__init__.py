"""Provisioning and security: per-node broker credentials, the broker's ACL and TLS, node bundles.

The pure parts (`passwords`, `acl`, `pki`) compute text and keys from their
inputs; `store`, `broker` and `bundle` write files; `verify` talks to a real
broker. Nothing here imports psycopg: provisioning works on a machine that
holds the CA key and the inventory, with or without the database.
"""
