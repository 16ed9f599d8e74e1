"""Products, the category tree, orders and order lines (M5)."""
