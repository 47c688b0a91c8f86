"""ExpertHub domain: plain-Python entities, value objects, errors and ports.

Nothing here imports Django, DRF, a driver or another layer of this project.
"""
