"""Deployment to a VM: the nginx site template and its renderer, systemd units, the release tool.

Standard library only: these run on the target before the app's virtualenv exists.
"""
