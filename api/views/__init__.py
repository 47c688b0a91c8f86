"""One APIView class per operation: validate input, call one use case, render output.

No view catches an exception: api.errors.exception_handler maps every domain
error to its status in the one error shape.
"""
