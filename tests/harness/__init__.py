"""Throwaway real servers for the integration tests: PostgreSQL (+ streaming replica), Redis, moto's S3.

Each server runs from the Debian package binaries on a free loopback port, in
a temporary directory, and is removed when stopped. `servers_required()` tells
whether a missing binary must fail the run (CI=true) or may skip.
"""
