"""Chart drawing adapters (the TrendChart port)."""
