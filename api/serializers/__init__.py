"""Output serializers shared by several views, and serializer building blocks.

Input serializers live nested in their one view (HackSoft style); a shape that
several views render lives here once.
"""
