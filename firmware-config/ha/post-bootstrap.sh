#!/bin/sh
# Patroni runs this once, on the member that initialises the cluster; $1 is its DSN.
set -eu
psql "$1" -v ON_ERROR_STOP=1 -c "CREATE DATABASE hubsense"
