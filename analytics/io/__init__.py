"""The analytics' media: CSV files in and out, the database in (binary COPY), rollups out."""
