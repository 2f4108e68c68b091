"""Statistics a centre publishes (docs/statistics.md): counts by category, area, source and period, hot spots
and trends (`collect`), and the daily statistics, 旬 analysis, monthly publication and yearly assessment as
Excel and PDF documents (publications.py), made on demand and on schedule."""
