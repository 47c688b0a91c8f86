"""Use cases. Each is a function `<entity>_<action>(*, ports..., inputs...)`.

Services import the domain only: ports come in as keyword arguments, chosen by
project/container.py. They own the transaction boundary (``uow.atomic()``) and
publish domain events inside it: the publisher delivers them after the commit.
"""
