"""Adapters: implementations of the domain ports. Only project/container.py picks one."""
