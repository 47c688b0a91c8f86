"""Image decoding for uploads (the ImageProbe port)."""
