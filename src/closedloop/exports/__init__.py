"""Exports: any table to CSV, Excel or Parquet (formula injection neutralised), and a person's
full data as JSON (right of access, M20)."""
